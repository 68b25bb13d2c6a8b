package pgstore

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDialerBoundsDeadPeers: every connection the store dials carries
// TCP_USER_TIMEOUT and keep-alive probes, so that a lost database ends a
// query with an error instead of holding it for minutes.
func TestDialerBoundsDeadPeers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dialer(time.Second)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var timeout, keepalive int
	var gerr error
	raw.Control(func(fd uintptr) {
		if timeout, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT); gerr == nil {
			keepalive, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if time.Duration(timeout)*time.Millisecond != deadPeerTimeout || keepalive != 1 {
		t.Errorf("TCP_USER_TIMEOUT %d ms, SO_KEEPALIVE %d; want %v and on", timeout, keepalive, deadPeerTimeout)
	}
}
