package protocol

import (
	"fmt"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Version is the version of the protocol this package speaks. Both ends
// send theirs: an agency in Hello, and a central that meets a version it
// does not serve answers with CodeVersion, naming both. Version 1 is the
// layout before agencies and the central exchanged digests: a Hello
// without a version, a Welcome without a digest, and an Ack for a Done.
// Version 3 adds two messages and changes none: Declare, the agency's
// total up front, and Waiting, the central's count of notified agencies
// while it holds a WinnersQuery.
const Version = 3

// MinVersion is the oldest version a central of this package serves: a
// connection whose Hello says MinVersion..Version speaks that version, and
// is sent only that version's messages. An agency of this package whose
// Version a central refuses with CodeVersion says Hello again, on a new
// connection, with MinVersion.
const MinVersion = 2

// Has reports whether a connection of version v may carry messages of
// type t: Declare and Waiting are of version 3 and later.
func Has(v uint16, t Type) bool {
	switch t {
	case TypeDeclare, TypeWaiting:
		return v >= 3
	}
	return true
}

// Type is a message type, the byte after a frame's length.
type Type uint8

// The message types. Types from the agency have the high bit clear, types
// from the central have it set.
const (
	TypeHello        Type = 0x01
	TypeBatch        Type = 0x02
	TypeDone         Type = 0x03
	TypeWinnersQuery Type = 0x04
	TypeHealth       Type = 0x05
	TypeDeclare      Type = 0x06 // version 3

	TypeWelcome  Type = 0x81
	TypeAck      Type = 0x82
	TypeWinners  Type = 0x83
	TypeNotYet   Type = 0x84
	TypeHealthOK Type = 0x85
	TypeDoneAck  Type = 0x86
	TypeWaiting  Type = 0x87 // version 3
	TypeError    Type = 0xFF
)

var typeNames = map[Type]string{
	TypeHello: "hello", TypeBatch: "batch", TypeDone: "done",
	TypeWinnersQuery: "winners_query", TypeHealth: "health",
	TypeWelcome: "welcome", TypeAck: "ack", TypeWinners: "winners",
	TypeNotYet: "not_yet", TypeHealthOK: "health_ok", TypeDoneAck: "done_ack",
	TypeDeclare: "declare", TypeWaiting: "waiting", TypeError: "error",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type_0x%02x", uint8(t))
}

// Message is one decoded message.
type Message interface {
	Type() Type
	appendPayload(dst []byte) ([]byte, error)
}

// Hello opens an agency's session. Version is the protocol version the
// agency speaks: Version for an agency of this package. A Hello of
// version 1, which had no version field, decodes with Version 1; a Hello
// is always encoded with its version field.
type Hello struct {
	Agency  uint32
	Version uint16
}

// Batch carries bets numbered First, First+1, ... in the agency's stream.
// The bets' Agency field is not on the wire: the receiver sets it from the
// session's Hello.
type Batch struct {
	First uint64
	Bets  []lottery.Bet
}

// Done says the agency has sent all of its Total bets.
type Done struct{ Total uint64 }

// Declare tells the central, once per connection and before any Batch,
// how many bets the agency has in all and their digest, as the agency
// read them before it connected: so that an operator sees each agency's
// progress before its Done. It is a declaration, not a promise: the
// central shows it and trusts it for nothing else (Done's total is the
// one that counts). It has no answer. Version 3.
type Declare struct {
	Total  uint64
	Digest lottery.Digest // of the Total bets (lottery.Hasher)
}

// WinnersQuery asks for the agency's winners.
type WinnersQuery struct{}

// Health asks whether the central is serving.
type Health struct{}

// Welcome answers Hello with where the agency's stream resumes, and with
// the digest of the bets the central holds for it, so that the agency can
// check them against its own before it sends more.
type Welcome struct {
	Committed uint64         // bets of this agency on stable storage
	Done      bool           // the agency has already notified
	Drawn     bool           // the draw has been held
	Digest    lottery.Digest // of the agency's first Committed bets
}

// Ack acknowledges a Batch: Committed bets of the agency are on stable
// storage.
type Ack struct{ Committed uint64 }

// DoneAck acknowledges a Done: the central holds Total bets of the agency,
// whose digest is Digest, and the agency has notified.
type DoneAck struct {
	Total  uint64
	Digest lottery.Digest
}

// Winners carries documents of the agency's winners. More is set on every
// frame but the last of an answer. Digest is the draw's digest
// (lottery.DrawDigest), the same on every frame of an answer.
type Winners struct {
	Documents []string
	More      bool
	Digest    lottery.Digest
}

// NotYet answers a WinnersQuery before the draw.
type NotYet struct{}

// MaxWinnersHold is the longest a central holds a WinnersQuery, waiting
// for the draw, before it answers NotYet. It is part of the contract, not
// of the wire: an agency must wait longer than this for the answer, or it
// gives up on every held query and never sees the draw.
const MaxWinnersHold = 5 * time.Second

// HealthOK answers Health.
type HealthOK struct {
	Expected int  // agencies the draw waits for
	Notified int  // agencies that have notified
	Drawn    bool // the draw has been held
}

// Waiting tells an agency whose WinnersQuery the central holds what the
// draw waits for: when the hold begins, and each time the count of
// notified agencies changes during it. The hold still ends with Winners
// or NotYet. Sent only on connections of version 3 and later.
type Waiting struct {
	Expected int // agencies the draw waits for
	Notified int // agencies that have notified
	// DeadlineMs is DRAW_DEADLINE, when sales close whoever has not
	// notified, in Unix milliseconds; 0 when the central has none.
	DeadlineMs uint64
}

// Deadline returns the draw's deadline, and false when there is none.
func (w Waiting) Deadline() (time.Time, bool) {
	if w.DeadlineMs == 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(w.DeadlineMs)), true
}

// WaitingUntil returns the Waiting of expected and notified agencies with
// deadline, none when it is the zero time.
func WaitingUntil(expected, notified int, deadline time.Time) Waiting {
	w := Waiting{Expected: expected, Notified: notified}
	if !deadline.IsZero() && deadline.UnixMilli() > 0 {
		w.DeadlineMs = uint64(deadline.UnixMilli())
	}
	return w
}

func (Hello) Type() Type        { return TypeHello }
func (Batch) Type() Type        { return TypeBatch }
func (Done) Type() Type         { return TypeDone }
func (WinnersQuery) Type() Type { return TypeWinnersQuery }
func (Health) Type() Type       { return TypeHealth }
func (Welcome) Type() Type      { return TypeWelcome }
func (Ack) Type() Type          { return TypeAck }
func (Winners) Type() Type      { return TypeWinners }
func (NotYet) Type() Type       { return TypeNotYet }
func (HealthOK) Type() Type     { return TypeHealthOK }
func (DoneAck) Type() Type      { return TypeDoneAck }
func (Declare) Type() Type      { return TypeDeclare }
func (Waiting) Type() Type      { return TypeWaiting }
func (*Error) Type() Type       { return TypeError }
