package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// Error is the central's answer to a frame it refuses.
type Error struct {
	Code    Code
	Message string
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

// Error makes *Error an error, so that a client can return the central's
// refusal as it came.
func (e *Error) Error() string {
	return fmt.Sprintf("central refused: %v: %s", e.Code, e.Message)
}

// Code says why the central refused a frame.
type Code uint8

// The error codes.
const (
	CodeMalformed     Code = 1  // payload does not decode; connection closed
	CodeUnknownType   Code = 2  // unknown message type; connection closed
	CodeFrameTooLarge Code = 3  // length over the limit; connection closed
	CodeInvalidBet    Code = 4  // a bet of the batch is invalid; nothing stored
	CodeUnexpected    Code = 5  // message not valid in this state; connection closed
	CodeBadAgency     Code = 6  // agency outside 1..AGENCIES_AMOUNT; connection closed
	CodeOutOfOrder    Code = 7  // batch leaves a gap; connection closed, resume from Welcome
	CodeDrawClosed    Code = 8  // new bets after the agency's Done or the draw; nothing stored
	CodeIncomplete    Code = 9  // Done's total differs from the committed count
	CodeBusy          Code = 10 // too many connections; try again later
	CodeUnavailable   Code = 11 // storage failed or the central is stopping; try again later
	CodeSuperseded    Code = 12 // a newer connection took over this agency
	CodeTimeout       Code = 13 // nothing arrived within the read timeout; connection closed
	CodeVersion       Code = 14 // the agency speaks another protocol version; connection closed
	CodeTLSRequired   Code = 15 // a plaintext agency at a central that requires TLS; sent in plaintext, connection closed
	CodeForbidden     Code = 16 // the agency's certificate does not allow the request; connection closed
)

var codeNames = map[Code]string{
	CodeMalformed: "malformed", CodeUnknownType: "unknown_type",
	CodeFrameTooLarge: "frame_too_large", CodeInvalidBet: "invalid_bet",
	CodeUnexpected: "unexpected", CodeBadAgency: "bad_agency",
	CodeOutOfOrder: "out_of_order", CodeDrawClosed: "draw_closed",
	CodeIncomplete: "incomplete", CodeBusy: "busy",
	CodeUnavailable: "unavailable", CodeSuperseded: "superseded",
	CodeTimeout: "timeout", CodeVersion: "version",
	CodeTLSRequired: "tls_required", CodeForbidden: "forbidden",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code_%d", uint8(c))
}

// Closes reports whether the central closes the connection after sending
// an error with this code.
func (c Code) Closes() bool {
	switch c {
	case CodeInvalidBet, CodeDrawClosed, CodeIncomplete:
		return false
	}
	return true
}

// Retryable reports whether an agency that got this code may succeed by
// connecting again later and resuming.
func (c Code) Retryable() bool {
	switch c {
	case CodeOutOfOrder, CodeBusy, CodeUnavailable, CodeSuperseded, CodeTimeout:
		return true
	}
	return false
}

// Decode decodes the payload of a frame of type t.
func Decode(t Type, p []byte) (Message, error) {
	d := decoder{p: p}
	var m Message
	switch t {
	case TypeHello:
		m = d.hello()
	case TypeBatch:
		m = d.batch(nil)
	case TypeDone:
		m = Done{Total: d.u64()}
	case TypeWinnersQuery:
		m = WinnersQuery{}
	case TypeHealth:
		m = Health{}
	case TypeWelcome:
		c, f, dg := d.u64(), d.u8(), d.digest()
		m = Welcome{Committed: c, Done: f&1 != 0, Drawn: f&2 != 0, Digest: dg}
	case TypeAck:
		m = Ack{Committed: d.u64()}
	case TypeWinners:
		m = d.winners()
	case TypeNotYet:
		m = NotYet{}
	case TypeHealthOK:
		e, n, f := d.u16(), d.u16(), d.u8()
		m = HealthOK{Expected: int(e), Notified: int(n), Drawn: f&1 != 0}
	case TypeDoneAck:
		t, dg := d.u64(), d.digest()
		m = DoneAck{Total: t, Digest: dg}
	case TypeError:
		c := Code(d.u8())
		m = &Error{Code: c, Message: d.str16()}
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d bytes after the payload", len(d.p))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrMalformed, t, d.err)
	}
	return m, nil
}

// DecodeBatch decodes the payload of a Batch frame into bets, reusing its
// memory: a central that decodes many batches into one buffer allocates
// only the batch's text. The Batch's Bets alias bets.
func DecodeBatch(p []byte, bets []lottery.Bet) (Batch, error) {
	d := decoder{p: p}
	m := d.batch(bets)
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d bytes after the payload", len(d.p))
	}
	if d.err != nil {
		return Batch{}, fmt.Errorf("%w: %v: %w", ErrMalformed, TypeBatch, d.err)
	}
	return m.(Batch), nil
}

// decoder reads fields from a payload; after the first error every read
// returns a zero value and err keeps that error.
type decoder struct {
	p   []byte
	s   string // the payload as one string: fields are sliced from it
	err error
}

var errShort = errors.New("payload too short")

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.p) < n {
		d.err = errShort
		d.p = nil
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// digestSize is the wire size of a digest: its 32 bytes as they are.
const digestSize = len(lottery.Digest{})

func (d *decoder) digest() lottery.Digest {
	var dg lottery.Digest
	if b := d.take(digestSize); b != nil {
		copy(dg[:], b)
	}
	return dg
}

// helloV1Size is the payload of a Hello of version 1: the agency alone.
const helloV1Size = 4

// hello reads a Hello. The payload of version 1, the agency without a
// version, decodes as Version 1, so that a central can tell such an agency
// which version it speaks instead of refusing a malformed frame; any
// length other than that one and the current one is malformed.
func (d *decoder) hello() Message {
	if len(d.p) == helloV1Size {
		return Hello{Agency: d.u32(), Version: 1}
	}
	a, v := d.u32(), d.u16()
	return Hello{Agency: a, Version: v}
}

// str8 reads a string with a one-byte length. Strings are sliced from one
// copy of the payload, so decoding a batch costs one allocation for all of
// its text rather than four per bet.
func (d *decoder) str8() string {
	n := int(d.u8())
	return d.sliceString(n)
}

func (d *decoder) str16() string {
	n := int(d.u16())
	return d.sliceString(n)
}

func (d *decoder) sliceString(n int) string {
	if d.err != nil {
		return ""
	}
	if d.s == "" {
		d.s = string(d.p)
	}
	off := len(d.s) - len(d.p)
	b := d.take(n)
	if b == nil {
		return ""
	}
	if !validUTF8(b) {
		d.err = errors.New("string is not valid UTF-8")
		return ""
	}
	return d.s[off : off+n]
}

// validUTF8 is utf8.Valid with the common case, short ASCII text, done
// inline: a batch has four strings per bet.
func validUTF8(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b)
		}
	}
	return true
}

// minBetSize is the wire size of a bet with empty strings: four lengths
// and the number.
const minBetSize = 4 + 2

func (d *decoder) batch(bets []lottery.Bet) Message {
	first, count := d.u64(), int(d.u16())
	if d.err == nil && count*minBetSize > len(d.p) {
		// Checked before allocating: a forged count cannot make us
		// reserve more than the frame could hold.
		d.err = fmt.Errorf("count %d does not fit in %d bytes", count, len(d.p))
	}
	if d.err != nil {
		return nil
	}
	if bets == nil {
		bets = make([]lottery.Bet, count)
	} else {
		bets = slices.Grow(bets[:0], count)[:count]
	}
	for i := range bets {
		b := &bets[i]
		b.Agency = 0
		b.FirstName = d.str8()
		b.LastName = d.str8()
		b.Document = d.str8()
		b.Birthdate = d.str8()
		b.Number = int(d.u16())
	}
	return Batch{First: first, Bets: bets}
}

func (d *decoder) winners() Message {
	flags, dg, count := d.u8(), d.digest(), int(d.u16())
	if d.err == nil && count > len(d.p) {
		d.err = fmt.Errorf("count %d does not fit in %d bytes", count, len(d.p))
	}
	if d.err != nil {
		return nil
	}
	docs := make([]string, count)
	for i := range docs {
		docs[i] = d.str8()
	}
	return Winners{Documents: docs, More: flags&1 != 0, Digest: dg}
}

func appendU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }
func appendU32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }
func appendU64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

func appendStr8(dst []byte, s string) ([]byte, error) {
	if len(s) > 255 {
		return dst, fmt.Errorf("string of %d bytes does not fit a one-byte length", len(s))
	}
	return append(append(dst, byte(len(s))), s...), nil
}

func flag(b bool, bit uint8) uint8 {
	if b {
		return bit
	}
	return 0
}

func (m Hello) appendPayload(dst []byte) ([]byte, error) {
	return appendU16(appendU32(dst, m.Agency), m.Version), nil
}

func (m Batch) appendPayload(dst []byte) ([]byte, error) {
	if len(m.Bets) > 0xFFFF {
		return dst, fmt.Errorf("%d bets do not fit a batch", len(m.Bets))
	}
	dst = appendU64(dst, m.First)
	dst = appendU16(dst, uint16(len(m.Bets)))
	var err error
	for _, b := range m.Bets {
		if dst, err = AppendBet(dst, b); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// AppendBet appends the wire form of bet (without its agency) to dst.
func AppendBet(dst []byte, bet lottery.Bet) ([]byte, error) {
	if bet.Number < 0 || bet.Number > 0xFFFF {
		return dst, fmt.Errorf("number %d does not fit 16 bits", bet.Number)
	}
	var err error
	for _, s := range [...]string{bet.FirstName, bet.LastName, bet.Document, bet.Birthdate} {
		if dst, err = appendStr8(dst, s); err != nil {
			return dst, err
		}
	}
	return appendU16(dst, uint16(bet.Number)), nil
}

func (m Done) appendPayload(dst []byte) ([]byte, error)       { return appendU64(dst, m.Total), nil }
func (WinnersQuery) appendPayload(dst []byte) ([]byte, error) { return dst, nil }
func (Health) appendPayload(dst []byte) ([]byte, error)       { return dst, nil }
func (NotYet) appendPayload(dst []byte) ([]byte, error)       { return dst, nil }
func (m Ack) appendPayload(dst []byte) ([]byte, error)        { return appendU64(dst, m.Committed), nil }
func (m Welcome) appendPayload(dst []byte) ([]byte, error) {
	dst = append(appendU64(dst, m.Committed), flag(m.Done, 1)|flag(m.Drawn, 2))
	return append(dst, m.Digest[:]...), nil
}

func (m DoneAck) appendPayload(dst []byte) ([]byte, error) {
	return append(appendU64(dst, m.Total), m.Digest[:]...), nil
}

func (m Winners) appendPayload(dst []byte) ([]byte, error) {
	if len(m.Documents) > 0xFFFF {
		return dst, fmt.Errorf("%d documents do not fit a frame", len(m.Documents))
	}
	dst = append(dst, flag(m.More, 1))
	dst = append(dst, m.Digest[:]...)
	dst = appendU16(dst, uint16(len(m.Documents)))
	var err error
	for _, doc := range m.Documents {
		if dst, err = appendStr8(dst, doc); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (m HealthOK) appendPayload(dst []byte) ([]byte, error) {
	dst = appendU16(dst, uint16(m.Expected))
	dst = appendU16(dst, uint16(m.Notified))
	return append(dst, flag(m.Drawn, 1)), nil
}

func (m *Error) appendPayload(dst []byte) ([]byte, error) {
	msg := m.Message
	if max := MaxFrameSize - HeaderSize - 3; len(msg) > max {
		msg = msg[:max]
	}
	// A message may quote what a peer sent: keep it valid UTF-8, as the
	// reader requires, even where the cut split a character.
	msg = strings.ToValidUTF8(msg, "")
	dst = append(dst, byte(m.Code))
	dst = appendU16(dst, uint16(len(msg)))
	return append(dst, msg...), nil
}
