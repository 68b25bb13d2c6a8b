package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

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
	case TypeDeclare:
		t, dg := d.u64(), d.digest()
		m = Declare{Total: t, Digest: dg}
	case TypeWaiting:
		e, n, dl := d.u16(), d.u16(), d.u64()
		m = Waiting{Expected: int(e), Notified: int(n), DeadlineMs: dl}
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
