package client

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// errProtocol marks an answer that breaks the protocol: reconnecting would
// not help.
var errProtocol = errors.New("protocol violation by the central")

// link is a connection to the central with a deadline on every wait.
type link struct {
	nc      net.Conn
	r       *protocol.Reader
	w       *protocol.Writer
	timeout time.Duration
	// progressed is set once the central has made progress for the
	// agency on this link: it acknowledged a batch or the Done, or
	// answered a winners query (winners, not yet, or waiting). A Welcome alone is
	// not progress: a failing central welcomes, then refuses.
	progressed bool
}

func (c *link) send(m protocol.Message) error {
	if err := c.w.Write(m); err != nil {
		return err
	}
	return c.flush()
}

func (c *link) sendFrame(frame []byte) error {
	if err := c.w.WriteFrame(frame); err != nil {
		return err
	}
	return c.flush()
}

func (c *link) flush() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// read reads the next message, waiting at most the link's timeout; an
// Error from the central is returned as an error (*protocol.Error).
func (c *link) read() (protocol.Message, error) {
	return c.readWithin(c.timeout)
}

// readWithin is read with a wait of timeout.
func (c *link) readWithin(timeout time.Duration) (protocol.Message, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	msg, err := c.r.Read()
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	switch m := msg.(type) {
	case *protocol.Error:
		return nil, m
	case protocol.Ack, protocol.DoneAck, protocol.Winners, protocol.NotYet, protocol.Waiting:
		c.progressed = true
	}
	return msg, nil
}

func (c *link) call(m protocol.Message) (protocol.Message, error) {
	if err := c.send(m); err != nil {
		return nil, err
	}
	return c.read()
}
