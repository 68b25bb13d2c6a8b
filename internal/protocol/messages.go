package protocol

import (
	"fmt"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Version is the version of the protocol this package speaks. Both ends
// send theirs: an agency in Hello, and a central that meets another
// version answers with CodeVersion, naming both. Version 1 is the layout
// before agencies and the central exchanged digests: a Hello without a
// version, a Welcome without a digest, and an Ack for a Done.
const Version = 2

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

	TypeWelcome  Type = 0x81
	TypeAck      Type = 0x82
	TypeWinners  Type = 0x83
	TypeNotYet   Type = 0x84
	TypeHealthOK Type = 0x85
	TypeDoneAck  Type = 0x86
	TypeError    Type = 0xFF
)

var typeNames = map[Type]string{
	TypeHello: "hello", TypeBatch: "batch", TypeDone: "done",
	TypeWinnersQuery: "winners_query", TypeHealth: "health",
	TypeWelcome: "welcome", TypeAck: "ack", TypeWinners: "winners",
	TypeNotYet: "not_yet", TypeHealthOK: "health_ok", TypeDoneAck: "done_ack",
	TypeError: "error",
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
func (*Error) Type() Type       { return TypeError }
