package server

import (
	"context"
	"net"
	"time"
)

// The tests of this package are package server_test: they run the whole
// central, wired by package app (which imports this one), through
// apptest. These lend them what they check of the server's insides.

// Waiting is the number of connections waiting for a slot.
func (s *Server) Waiting() int64 { return s.waiting.Load() }

// ServeConn serves nc as if the listener had accepted it at accepted.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn, accepted time.Time) {
	s.serveConn(ctx, nc, accepted)
}
