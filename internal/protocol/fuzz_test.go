package protocol

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds arbitrary bytes to a Reader. Whatever the input, the
// Reader must not panic, must end with one of its documented errors, and
// every message it decodes must encode again and decode to the same
// message.
func FuzzReader(f *testing.F) {
	var stream []byte
	for _, tc := range roundTripCases() {
		frame, err := AppendFrame(nil, tc.in)
		if err != nil {
			f.Fatalf("%s: %v", tc.name, err)
		}
		f.Add(frame)
		stream = append(stream, frame...)
	}
	f.Add(stream)
	full, err := AppendFrame(nil, Winners{Documents: fullWinners(), Digest: seqDigest})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	for _, broken := range [][]byte{
		{},
		{0},
		{0, 0, 0},
		{0, 0, 0, 0},                            // empty frame
		{0, 0, 0, 1},                            // length, no type
		{0, 0, 0, 1, 0x07},                      // unknown type
		{0, 0, 0, 1, 0x80},                      // unknown type
		{0, 0, 0x1f, 0xfd, 0xff},                // length 8189
		{0, 0, 0x1f, 0xfc, 0xff},                // length 8188, body missing
		{0xff, 0xff, 0xff, 0xff, 0x01},          // huge length
		{0, 0, 0, 4, 0x01, 0, 0, 0},             // short Hello
		{0, 0, 0, 5, 0x01, 0, 0, 0, 1},          // Hello of version 1: agency 1, no version
		{0, 0, 0, 6, 0x01, 0, 0, 0, 1, 0},       // Hello with half a version
		{0, 0, 0, 8, 0x01, 0, 0, 0, 1, 0, 2, 0}, // Hello with a trailing byte
		rawFrame(TypeBatch, cat(be64(0), be16(0xFFFF), str8("a"))),
		rawFrame(TypeBatch, cat(be64(1), be16(1), str8("\xff"), str8(""), str8(""), str8(""), be16(1))),
		rawFrame(TypeWinners, cat([]byte{0xff}, seqDigest[:], be16(2), str8("1"), str8("2"))), // unknown flag bits
		rawFrame(TypeWinners, cat([]byte{0}, be16(1), str8("1"))),                             // version 1: no digest
		rawFrame(TypeWelcome, cat(be64(3), []byte{0xff}, seqDigest[:])),                       // unknown flag bits
		rawFrame(TypeWelcome, cat(be64(3), []byte{0})),                                        // version 1: no digest
		rawFrame(TypeDoneAck, cat(be64(3), seqDigest[:31])),                                   // digest cut short
		rawFrame(TypeHealthOK, cat(be16(1), be16(2), []byte{0xfe})),
		rawFrame(TypeDeclare, cat(be64(3), seqDigest[:31])),                                   // digest cut short
		rawFrame(TypeWaiting, cat(be16(2), be16(1))),                                          // version 3 without its deadline
		rawFrame(TypeWaiting, cat(be16(2), be16(3), be64(math.MaxUint64))),                    // more notified than expected: decodes
		cat(rawFrame(TypeWaiting, cat(be16(2), be16(1), be64(0))), rawFrame(TypeNotYet, nil)), // a hold's frames
		rawFrame(TypeError, cat([]byte{byte(CodeBusy)}, be16(0xFFFF), []byte("x"))),
		rawFrame(TypeError, cat([]byte{byte(CodeBusy)}, be16(1), []byte("\xc3"))),
		cat(rawFrame(TypeHello, be64(0)[:6]), []byte{0, 0, 0}), // a frame, then a cut header
	} {
		f.Add(broken)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := readAll(t, bytes.NewReader(data))
		checkReaderError(t, err)
		for _, m := range msgs {
			checkReencode(t, m)
		}

		// Pieces of one byte must give the same messages and the same end.
		msgs1, err1 := readAll(t, iotest.OneByteReader(bytes.NewReader(data)))
		if !reflect.DeepEqual(msgs1, msgs) {
			t.Errorf("one byte at a time decoded %d messages, whole %d, or they differ", len(msgs1), len(msgs))
		}
		if err1.Error() != err.Error() {
			t.Errorf("one byte at a time ended with %v, whole with %v", err1, err)
		}

		// The frames read account for the input: io.EOF only when every
		// byte belongs to a whole frame, io.ErrUnexpectedEOF only when some
		// are left over.
		fr := NewReader(bytes.NewReader(data))
		used := 0
		for {
			_, payload, err := fr.ReadFrame()
			if err != nil {
				switch {
				case err == io.EOF && used != len(data):
					t.Errorf("io.EOF after %d of %d bytes", used, len(data))
				case errors.Is(err, io.ErrUnexpectedEOF) && used >= len(data):
					t.Errorf("io.ErrUnexpectedEOF after %d of %d bytes", used, len(data))
				}
				break
			}
			used += HeaderSize + len(payload)
			if used > len(data) {
				t.Fatalf("frames of %d bytes from %d bytes of input", used, len(data))
			}
		}
	})
}

func checkReaderError(t *testing.T, err error) {
	t.Helper()
	for _, known := range []error{io.EOF, io.ErrUnexpectedEOF, ErrFrameTooLarge, ErrEmptyFrame, ErrUnknownType, ErrMalformed} {
		if errors.Is(err, known) {
			return
		}
	}
	t.Errorf("Read ended with an undocumented error: %v", err)
}

func checkReencode(t *testing.T, m Message) {
	t.Helper()
	frame, err := AppendFrame(nil, m)
	if err != nil {
		t.Fatalf("decoded %#v does not encode: %v", m, err)
	}
	if len(frame) > MaxFrameSize {
		t.Fatalf("decoded %#v encodes to %d bytes", m, len(frame))
	}
	again, err := NewReader(bytes.NewReader(frame)).Read()
	if err != nil {
		t.Fatalf("re-encoded %#v does not decode: %v", m, err)
	}
	if !reflect.DeepEqual(again, m) {
		t.Fatalf("decoded\n\t%#v\nre-encoded and decoded\n\t%#v", m, again)
	}
}
