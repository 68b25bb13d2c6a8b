package server

import (
	"time"
)

// Refusal is the latest refusal of an agency's, as the admin page shows
// it: when, the reason (a protocol code's name or ReasonTLS) and what
// the fail line said.
type Refusal struct {
	At      time.Time
	Reason  string
	Message string
}

// speaker is the agency a connection speaks for, or whose certificate
// it holds: the agency a refusal is told to the operators against; 0 for
// a peer that is no agency yet (plaintext before Hello, a certificate of
// another CA, the probe).
func (c *conn) speaker() int {
	switch {
	case c.agency != 0:
		return c.agency
	case c.identity != nil && !c.identity.Probe:
		return c.identity.Agency
	}
	return 0
}

// refusedAgency records a refusal of the connection's agency's, where it
// has one, as its latest (Activity.LastRefusal). It does not mark the
// agency seen: a revoked agency refused at its handshake was never let
// in.
func (c *conn) refusedAgency(reason string, err error) {
	agency := c.speaker()
	if agency == 0 || agency > c.srv.central.Agencies() {
		return
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.activity[agency]
	if a == nil {
		a = &Activity{}
		s.activity[agency] = a
	}
	a.LastRefusal = &Refusal{At: time.Now(), Reason: reason, Message: err.Error()}
	a.Refused = true
}
