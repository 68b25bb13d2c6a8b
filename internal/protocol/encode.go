package protocol

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// appendU16, appendU32 and appendU64 append v big-endian, the wire's byte
// order.
func appendU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }
func appendU32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }
func appendU64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

// appendStr8 appends s after its length in one byte, refusing a longer s.
func appendStr8(dst []byte, s string) ([]byte, error) {
	if len(s) > 255 {
		return dst, fmt.Errorf("string of %d bytes does not fit a one-byte length", len(s))
	}
	return append(append(dst, byte(len(s))), s...), nil
}

// flag returns bit when b is set, for a flags byte.
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

func (m Declare) appendPayload(dst []byte) ([]byte, error) {
	return append(appendU64(dst, m.Total), m.Digest[:]...), nil
}

func (m Waiting) appendPayload(dst []byte) ([]byte, error) {
	dst = appendU16(dst, uint16(m.Expected))
	dst = appendU16(dst, uint16(m.Notified))
	return appendU64(dst, m.DeadlineMs), nil
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
