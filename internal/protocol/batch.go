package protocol

import (
	"encoding/binary"
	"fmt"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// batchHeaderSize is the size of a Batch frame before its first bet: the
// frame header, First and the count.
const batchHeaderSize = HeaderSize + 8 + 2

// BatchEncoder builds one Batch frame bet by bet, so that a sender can fill
// a frame up to MaxFrameSize without encoding anything twice.
type BatchEncoder struct {
	buf   []byte
	count int
	max   int
}

// NewBatchEncoder returns an encoder for batches of at most maxBets bets.
func NewBatchEncoder(maxBets int) *BatchEncoder {
	e := &BatchEncoder{buf: make([]byte, batchHeaderSize, MaxFrameSize), max: min(maxBets, 0xFFFF)}
	return e
}

// Reset empties the batch, which will start at bet number first.
func (e *BatchEncoder) Reset(first uint64) {
	e.buf = e.buf[:batchHeaderSize]
	binary.BigEndian.PutUint64(e.buf[HeaderSize:], first)
	e.count = 0
}

// Add appends bet to the batch. It reports false, leaving the batch as it
// was, when the batch already holds its maximum of bets or the bet would
// take the frame past MaxFrameSize: the caller then sends Frame and adds the
// bet to the next batch.
func (e *BatchEncoder) Add(bet lottery.Bet) (bool, error) {
	if e.count >= e.max {
		return false, nil
	}
	n := len(e.buf)
	buf, err := AppendBet(e.buf, bet)
	if err != nil {
		e.buf = e.buf[:n]
		return false, fmt.Errorf("encode bet: %w", err)
	}
	if len(buf) > MaxFrameSize {
		if e.count == 0 {
			return false, fmt.Errorf("encode bet: a single bet of %d bytes does not fit a frame", len(buf)-n)
		}
		e.buf = buf[:n]
		return false, nil
	}
	e.buf = buf
	e.count++
	return true, nil
}

// Len returns the number of bets in the batch.
func (e *BatchEncoder) Len() int { return e.count }

// Frame returns the encoded frame, valid until the next Reset or Add.
func (e *BatchEncoder) Frame() []byte {
	binary.BigEndian.PutUint32(e.buf, uint32(len(e.buf)-4))
	e.buf[4] = byte(TypeBatch)
	binary.BigEndian.PutUint16(e.buf[HeaderSize+8:], uint16(e.count))
	return e.buf
}

// winnersHeaderSize is the size of a Winners frame before its first
// document: the frame header, the flags, the draw's digest and the count.
const winnersHeaderSize = HeaderSize + 1 + digestSize + 2

// SplitWinners splits documents into the Winners messages of one answer,
// each of which fits a frame and carries the draw's digest. An empty list
// is one message with no documents.
func SplitWinners(documents []string, digest lottery.Digest) []Winners {
	const room = MaxFrameSize - winnersHeaderSize
	var out []Winners
	start, size := 0, 0
	for i, doc := range documents {
		if size+1+len(doc) > room {
			out = append(out, Winners{Documents: documents[start:i], More: true, Digest: digest})
			start, size = i, 0
		}
		size += 1 + len(doc)
	}
	return append(out, Winners{Documents: documents[start:], Digest: digest})
}
