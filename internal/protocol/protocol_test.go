package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// sampleBets are bets whose text stresses the encoding: accented and
// non-Latin UTF-8, commas and quotes (which a CSV form would have to
// escape), empty strings and the extremes of a number's 16 bits.
var sampleBets = []lottery.Bet{
	{FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465", Birthdate: "1999-03-17", Number: 7574},
	{FirstName: "María José", LastName: "Núñez Güemes", Document: "12345678", Birthdate: "1980-12-31", Number: 0},
	{FirstName: `Ana, "la Negra"`, LastName: "O'Higgins, Pérez", Document: "1", Birthdate: "2000-02-29", Number: 9999},
	{FirstName: "日本語", LastName: "Ñandú 🎲", Document: "", Birthdate: "", Number: 65535},
	{FirstName: "", LastName: "", Document: "0000000000000000", Birthdate: "1900-01-01", Number: 1},
}

// seqDigest is a digest whose bytes are 0x00, 0x01, ..., 0x1f: in a dump
// each byte shows where it sits.
var seqDigest = func() lottery.Digest {
	var d lottery.Digest
	for i := range d {
		d[i] = byte(i)
	}
	return d
}()

// ffDigest is a digest of all ones.
var ffDigest = func() lottery.Digest {
	var d lottery.Digest
	for i := range d {
		d[i] = 0xff
	}
	return d
}()

type roundTripCase struct {
	name string
	in   Message
	want Message // what decoding gives back; nil means in
}

// roundTripCases holds at least one message of every type.
func roundTripCases() []roundTripCase {
	withAgency := make([]lottery.Bet, len(sampleBets))
	copy(withAgency, sampleBets)
	for i := range withAgency {
		withAgency[i].Agency = 7
	}
	cases := []roundTripCase{
		{name: "hello", in: Hello{Agency: 1, Version: Version}},
		{name: "hello_zero", in: Hello{Agency: 0}},
		{name: "hello_max", in: Hello{Agency: math.MaxUint32, Version: math.MaxUint16}},
		{name: "hello_version_1", in: Hello{Agency: 5, Version: 1}},
		{name: "batch", in: Batch{First: 1200, Bets: sampleBets}},
		{name: "batch_one_bet", in: Batch{First: 0, Bets: sampleBets[:1]}},
		{name: "batch_empty", in: Batch{First: 42, Bets: []lottery.Bet{}}},
		{name: "batch_first_max", in: Batch{First: math.MaxUint64, Bets: sampleBets[2:3]}},
		{
			// The agency of a bet is not on the wire: the receiver takes
			// it from the session's Hello.
			name: "batch_agency_not_on_wire",
			in:   Batch{First: 5, Bets: withAgency},
			want: Batch{First: 5, Bets: sampleBets},
		},
		{name: "done", in: Done{Total: 15000}},
		{name: "done_zero", in: Done{Total: 0}},
		{name: "done_max", in: Done{Total: math.MaxUint64}},
		{name: "winners_query", in: WinnersQuery{}},
		{name: "health", in: Health{}},
		{name: "ack", in: Ack{Committed: 250}},
		{name: "ack_zero", in: Ack{}},
		{name: "ack_max", in: Ack{Committed: math.MaxUint64}},
		{name: "done_ack", in: DoneAck{Total: 15000, Digest: seqDigest}},
		{name: "done_ack_empty", in: DoneAck{Total: 0, Digest: lottery.EmptyDigest}},
		{name: "done_ack_max", in: DoneAck{Total: math.MaxUint64, Digest: ffDigest}},
		{name: "winners_more", in: Winners{Documents: []string{"30904465", "12345678"}, More: true, Digest: seqDigest}},
		{name: "winners_last", in: Winners{Documents: []string{"1", "", "0000000000000000"}, More: false, Digest: ffDigest}},
		{name: "winners_empty", in: Winners{Documents: []string{}}},
		{name: "winners_empty_more", in: Winners{Documents: []string{}, More: true, Digest: lottery.EmptyDigest}},
		{name: "not_yet", in: NotYet{}},
		{name: "health_ok", in: HealthOK{Expected: 5, Notified: 3}},
		{name: "health_ok_zero", in: HealthOK{}},
		{name: "health_ok_drawn_max", in: HealthOK{Expected: 65535, Notified: 65535, Drawn: true}},
		{name: "declare", in: Declare{Total: 670200, Digest: seqDigest}},
		{name: "declare_zero", in: Declare{Digest: lottery.EmptyDigest}},
		{name: "declare_max", in: Declare{Total: math.MaxUint64, Digest: ffDigest}},
		{name: "waiting", in: Waiting{Expected: 5, Notified: 1}},
		{name: "waiting_deadline", in: WaitingUntil(2, 1, time.UnixMilli(1767225600123))},
		{name: "waiting_zero", in: Waiting{}},
		{name: "waiting_max", in: Waiting{Expected: 65535, Notified: 65535, DeadlineMs: math.MaxUint64}},
		{name: "error_empty_message", in: &Error{Code: CodeBusy}},
		{name: "error_unknown_code", in: &Error{Code: 200, Message: "código desconocido"}},
	}
	for _, done := range []bool{false, true} {
		for _, drawn := range []bool{false, true} {
			cases = append(cases, roundTripCase{
				name: fmt.Sprintf("welcome_done_%v_drawn_%v", done, drawn),
				in:   Welcome{Committed: 1234567890123, Done: done, Drawn: drawn, Digest: seqDigest},
			})
		}
	}
	cases = append(cases, roundTripCase{name: "welcome_empty", in: Welcome{Digest: lottery.EmptyDigest}})
	for c := CodeMalformed; c <= CodeForbidden; c++ {
		cases = append(cases, roundTripCase{
			name: "error_" + c.String(),
			in:   &Error{Code: c, Message: c.String() + ": apuesta rechazada, \"ñandú\""},
		})
	}
	return cases
}

func (c roundTripCase) wanted() Message {
	if c.want != nil {
		return c.want
	}
	return c.in
}

// encode returns the frames of msgs, one after another.
func encode(t *testing.T, msgs ...Message) []byte {
	t.Helper()
	var out []byte
	for _, m := range msgs {
		var err error
		out, err = AppendFrame(out, m)
		if err != nil {
			t.Fatalf("AppendFrame(%#v): %v", m, err)
		}
	}
	return out
}

// readAll reads messages from r until Read fails and returns them with the
// error that ended the stream. Each successful Read consumes at least a
// header, so the loop ends.
func readAll(t *testing.T, r io.Reader) ([]Message, error) {
	t.Helper()
	pr := NewReader(r)
	var msgs []Message
	for {
		m, err := pr.Read()
		if err != nil {
			if m != nil {
				t.Errorf("Read returned message %#v along with error %v", m, err)
			}
			return msgs, err
		}
		if m == nil {
			t.Fatal("Read returned neither a message nor an error")
		}
		msgs = append(msgs, m)
	}
}

func assertMessage(t *testing.T, got, want Message) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n\t%#v\nwant\n\t%#v", got, want)
	}
}

func assertErrorIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("error = %v, want errors.Is(err, %v)", err, target)
	}
}

// rawFrame builds a frame by hand, with a length that matches payload.
func rawFrame(typ Type, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)+1))
	return append(append(b, byte(typ)), payload...)
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func str8(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTripCases() {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			if err := w.Write(tc.in); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes reached the stream before Flush", buf.Len())
			}
			want := encode(t, tc.in)
			if w.Buffered() != len(want) {
				t.Errorf("Buffered() = %d, want %d", w.Buffered(), len(want))
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Writer wrote % x\nAppendFrame gives % x", buf.Bytes(), want)
			}
			frame := buf.Bytes()
			if len(frame) > MaxFrameSize {
				t.Errorf("frame of %d bytes", len(frame))
			}
			if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
				t.Errorf("length field %d, frame is %d bytes", n, len(frame))
			}
			if Type(frame[4]) != tc.in.Type() {
				t.Errorf("type byte 0x%02x, want %v", frame[4], tc.in.Type())
			}

			r := NewReader(&buf)
			got, err := r.Read()
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			assertMessage(t, got, tc.wanted())
			if got.Type() != tc.in.Type() {
				t.Errorf("Type() = %v, want %v", got.Type(), tc.in.Type())
			}
			if m, err := r.Read(); err != io.EOF {
				t.Errorf("Read after the last frame = %#v, %v; want io.EOF", m, err)
			}
		})
	}
}

// TestGolden pins the byte layout of each message type, including the
// examples that PROTOCOL.md shows.
func TestGolden(t *testing.T) {
	bet := lottery.Bet{FirstName: "Ana", LastName: "Paz", Document: "1", Birthdate: "2000-01-01", Number: 7574}
	const (
		seqHex   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // SHA-256 of nothing
	)
	tests := []struct {
		name       string
		m          Message
		hex        string
		decodeOnly bool // the bytes decode to m, which encodes otherwise
	}{
		{name: "hello", m: Hello{Agency: 3, Version: 2}, hex: "00000007 01 00000003 0002"},
		{name: "hello_version_1_encoded", m: Hello{Agency: 3, Version: 1}, hex: "00000007 01 00000003 0001"},
		// The Hello of an agency of version 1: the agency alone.
		{name: "hello_version_1_layout", m: Hello{Agency: 3, Version: 1}, hex: "00000005 01 00000003", decodeOnly: true},
		{name: "batch", m: Batch{First: 0, Bets: []lottery.Bet{bet}},
			hex: "00000022 02 0000000000000000 0001 03416e61 0350617a 0131 0a323030302d30312d3031 1d96"},
		{name: "done", m: Done{Total: 250}, hex: "00000009 03 00000000000000fa"},
		{name: "winners_query", m: WinnersQuery{}, hex: "00000001 04"},
		{name: "health", m: Health{}, hex: "00000001 05"},
		{name: "welcome", m: Welcome{Committed: 250, Done: false, Drawn: true, Digest: seqDigest},
			hex: "0000002a 81 00000000000000fa 02 " + seqHex},
		{name: "welcome_done", m: Welcome{Committed: 1, Done: true, Digest: seqDigest},
			hex: "0000002a 81 0000000000000001 01 " + seqHex},
		{name: "welcome_empty", m: Welcome{Digest: lottery.EmptyDigest},
			hex: "0000002a 81 0000000000000000 00 " + emptyHex},
		{name: "ack", m: Ack{Committed: 250}, hex: "00000009 82 00000000000000fa"},
		{name: "winners", m: Winners{Documents: []string{"123"}, More: true, Digest: seqDigest},
			hex: "00000028 83 01 " + seqHex + " 0001 03313233"},
		{name: "winners_none", m: Winners{Documents: []string{}, Digest: lottery.EmptyDigest},
			hex: "00000024 83 00 " + emptyHex + " 0000"},
		{name: "not_yet", m: NotYet{}, hex: "00000001 84"},
		{name: "health_ok", m: HealthOK{Expected: 5, Notified: 2, Drawn: true}, hex: "00000006 85 0005 0002 01"},
		{name: "done_ack", m: DoneAck{Total: 250, Digest: seqDigest}, hex: "00000029 86 00000000000000fa " + seqHex},
		{name: "hello_version_3", m: Hello{Agency: 3, Version: 3}, hex: "00000007 01 00000003 0003"},
		{name: "declare", m: Declare{Total: 250, Digest: seqDigest}, hex: "00000029 06 00000000000000fa " + seqHex},
		// 2026-01-01T00:00:00Z is 1767225600000 ms: 0x19b76daa800.
		{name: "waiting", m: Waiting{Expected: 2, Notified: 1, DeadlineMs: 1767225600000}, hex: "0000000d 87 0002 0001 0000019b76daa800"},
		{name: "waiting_no_deadline", m: Waiting{Expected: 5, Notified: 0}, hex: "0000000d 87 0005 0000 0000000000000000"},
		{name: "error", m: &Error{Code: CodeBusy, Message: "busy"}, hex: "00000008 ff 0a 0004 62757379"},
		{name: "error_version", m: &Error{Code: CodeVersion, Message: "v1"}, hex: "00000006 ff 0e 0002 7631"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := hex.DecodeString(strings.ReplaceAll(tc.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.decodeOnly {
				got := encode(t, tc.m)
				if !bytes.Equal(got, want) {
					t.Errorf("AppendFrame = % x\nwant          % x", got, want)
				}
			}
			if n := binary.BigEndian.Uint32(want); int(n) != len(want)-4 {
				t.Fatalf("bad test frame: length field %d, %d bytes follow", n, len(want)-4)
			}
			m, err := Decode(Type(want[4]), want[HeaderSize:])
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertMessage(t, m, tc.m)
		})
	}
}

func TestAppendFrameAppends(t *testing.T) {
	prefix := []byte("prefix")
	out, err := AppendFrame(append([]byte(nil), prefix...), Ack{Committed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Errorf("AppendFrame lost what was in dst: % x", out)
	}
	m, err := NewReader(bytes.NewReader(out[len(prefix):])).Read()
	if err != nil {
		t.Fatal(err)
	}
	assertMessage(t, m, Ack{Committed: 9})
}

func TestAppendFrameErrors(t *testing.T) {
	long := strings.Repeat("x", 256)
	name255 := strings.Repeat("n", 255)
	big := lottery.Bet{FirstName: name255, LastName: name255, Document: name255, Birthdate: name255}
	tests := []struct {
		name   string
		m      Message
		tooBig bool // the error must be ErrFrameTooLarge
	}{
		{name: "first_name_256", m: Batch{Bets: []lottery.Bet{{FirstName: long}}}},
		{name: "last_name_256", m: Batch{Bets: []lottery.Bet{{LastName: long}}}},
		{name: "document_256", m: Batch{Bets: []lottery.Bet{{Document: long}}}},
		{name: "birthdate_256", m: Batch{Bets: []lottery.Bet{{Birthdate: long}}}},
		{name: "number_negative", m: Batch{Bets: []lottery.Bet{{Number: -1}}}},
		{name: "number_17_bits", m: Batch{Bets: []lottery.Bet{{Number: 65536}}}},
		{name: "too_many_bets", m: Batch{Bets: make([]lottery.Bet, 65536)}},
		{name: "batch_too_big", m: Batch{Bets: []lottery.Bet{big, big, big, big, big, big, big, big}}, tooBig: true},
		{name: "winners_document_256", m: Winners{Documents: []string{long}}},
		{name: "too_many_documents", m: Winners{Documents: make([]string, 65536)}},
		{name: "winners_too_big", m: Winners{Documents: slicesOf(name255, 33)}, tooBig: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := AppendFrame(dst, tc.m)
			if err == nil {
				t.Fatalf("AppendFrame accepted %d bytes", len(out))
			}
			if tc.tooBig {
				assertErrorIs(t, err, ErrFrameTooLarge)
			}
			if !bytes.Equal(out, dst) {
				t.Errorf("AppendFrame left % x in dst after failing, want % x", out, dst)
			}
		})
	}
}

func slicesOf(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestWriterMatchesAppendFrame writes a stream of several frames, larger
// than the Writer's buffer, and checks that it is byte for byte what
// AppendFrame produces.
func TestWriterMatchesAppendFrame(t *testing.T) {
	var msgs []Message
	for i := 0; i < 20; i++ {
		for _, tc := range roundTripCases() {
			msgs = append(msgs, tc.in)
		}
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatalf("Write(%#v): %v", m, err)
		}
	}
	e := NewBatchEncoder(10)
	e.Reset(77)
	for _, b := range sampleBets {
		if ok, err := e.Add(b); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
	}
	if err := w.WriteFrame(e.Frame()); err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, Batch{First: 77, Bets: sampleBets})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 {
		t.Errorf("Buffered() = %d after Flush", w.Buffered())
	}
	want := encode(t, msgs...)
	if len(want) <= MaxFrameSize {
		t.Fatalf("stream of %d bytes does not overflow the buffer", len(want))
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Writer wrote %d bytes that differ from AppendFrame's %d", buf.Len(), len(want))
	}
	got, err := readAll(t, &buf)
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, want %d", len(got), len(msgs))
	}
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := []Message{Ack{Committed: 1}, Ack{Committed: 2}, &Error{Code: CodeInvalidBet, Message: "número"}}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	want := encode(t, msgs...)
	if buf.Len() != 0 || w.Buffered() != len(want) {
		t.Fatalf("before Flush: %d bytes written, %d buffered; want 0, %d", buf.Len(), w.Buffered(), len(want))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("wrote % x, want % x", buf.Bytes(), want)
	}
}

func TestWriterEncodeErrorWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	name255 := strings.Repeat("n", 255)
	big := lottery.Bet{FirstName: name255, LastName: name255, Document: name255, Birthdate: name255}
	if err := w.Write(Batch{Bets: []lottery.Bet{{Number: -1}}}); err == nil {
		t.Error("Write accepted a bet with a negative number")
	}
	err := w.Write(Batch{Bets: slicesOfBet(big, 8)})
	assertErrorIs(t, err, ErrFrameTooLarge)
	if w.Buffered() != 0 {
		t.Errorf("%d bytes buffered after failed writes", w.Buffered())
	}
	if err := w.Write(Hello{Agency: 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := encode(t, Hello{Agency: 2}); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("wrote % x, want % x", buf.Bytes(), want)
	}
}

func slicesOfBet(b lottery.Bet, n int) []lottery.Bet {
	out := make([]lottery.Bet, n)
	for i := range out {
		out[i] = b
	}
	return out
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriterFlushError(t *testing.T) {
	boom := errors.New("connection reset")
	w := NewWriter(failingWriter{boom})
	if err := w.Write(Done{Total: 3}); err != nil {
		t.Fatal(err)
	}
	assertErrorIs(t, w.Flush(), boom)
}

// readers wraps a stream in the readers of testing/iotest, which return
// data in pieces that do not line up with frames.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one_byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data_err", iotest.DataErrReader},
}

func TestReaderPieces(t *testing.T) {
	var msgs, want []Message
	for _, tc := range roundTripCases() {
		msgs = append(msgs, tc.in)
		want = append(want, tc.wanted())
	}
	stream := encode(t, msgs...)
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			got, err := readAll(t, rd.wrap(bytes.NewReader(stream)))
			if err != io.EOF {
				t.Errorf("stream ended with %v, want io.EOF", err)
			}
			if len(got) != len(want) {
				t.Fatalf("read %d messages, want %d", len(got), len(want))
			}
			for i := range got {
				assertMessage(t, got[i], want[i])
			}
		})
	}
}

// TestReadDoesNotAlias checks that a decoded message does not share memory
// with the Reader's buffer, which the next frame overwrites.
func TestReadDoesNotAlias(t *testing.T) {
	b1 := Batch{First: 0, Bets: sampleBets}
	b2 := Batch{First: 5, Bets: []lottery.Bet{{FirstName: strings.Repeat("z", 200), LastName: strings.Repeat("y", 200),
		Document: strings.Repeat("9", 16), Birthdate: "2020-10-10", Number: 3}}}
	e1 := &Error{Code: CodeInvalidBet, Message: "primer mensaje"}
	e2 := &Error{Code: CodeInvalidBet, Message: strings.Repeat("#", 100)}
	w1 := Winners{Documents: []string{"11111111", "22222222"}, Digest: seqDigest}
	w2 := Winners{Documents: []string{"33333333333", "44444444444"}, Digest: ffDigest}
	got, err := readAll(t, bytes.NewReader(encode(t, b1, b2, e1, e2, w1, w2)))
	if err != io.EOF {
		t.Fatalf("stream ended with %v", err)
	}
	want := []Message{b1, b2, e1, e2, w1, w2}
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		assertMessage(t, got[i], want[i])
	}
}

// TestTruncated cuts a valid stream at every length: the Reader must give
// every whole frame before the cut, then io.EOF when the cut falls on a
// frame boundary and io.ErrUnexpectedEOF when it falls inside a frame.
func TestTruncated(t *testing.T) {
	msgs := []Message{
		Hello{Agency: 4, Version: Version},
		Welcome{Committed: 0, Digest: lottery.EmptyDigest},
		Batch{First: 0, Bets: sampleBets[:2]},
		Ack{Committed: 2},
		Done{Total: 2},
		DoneAck{Total: 2, Digest: seqDigest},
		WinnersQuery{},
		Winners{Documents: []string{"1", "22"}, More: true, Digest: ffDigest},
		Winners{Documents: []string{}, Digest: ffDigest},
		&Error{Code: CodeTimeout, Message: "sin datos"},
	}
	var stream []byte
	boundary := map[int]int{0: 0} // stream length -> whole frames in it
	for i, m := range msgs {
		stream = append(stream, encode(t, m)...)
		boundary[len(stream)] = i + 1
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			frames := 0
			for cut := 0; cut <= len(stream); cut++ {
				if n, ok := boundary[cut]; ok {
					frames = n
				}
				got, err := readAll(t, rd.wrap(bytes.NewReader(stream[:cut])))
				if len(got) != frames {
					t.Errorf("cut at %d: read %d messages, want %d", cut, len(got), frames)
				}
				if _, ok := boundary[cut]; ok {
					if err != io.EOF {
						t.Errorf("cut at %d (a frame boundary): error %v, want io.EOF", cut, err)
					}
				} else if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("cut at %d (inside a frame): error %v, want io.ErrUnexpectedEOF", cut, err)
				}
			}
		})
	}
}

// headerOnly yields a frame header and fails the test if the Reader asks
// for anything after it.
type headerOnly struct {
	t      *testing.T
	header []byte
	done   bool
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if h.done {
		h.t.Errorf("Reader read past the header % x", h.header)
		return 0, errors.New("read past the header")
	}
	h.done = true
	return copy(p, h.header), nil
}

func TestFrameLengthLimits(t *testing.T) {
	t.Run("8188_error", func(t *testing.T) {
		m := &Error{Code: CodeMalformed, Message: strings.Repeat("e", MaxFrameSize-HeaderSize-3)}
		frame := encode(t, m)
		if len(frame) != MaxFrameSize || binary.BigEndian.Uint32(frame) != 8188 {
			t.Fatalf("frame of %d bytes with length field %d", len(frame), binary.BigEndian.Uint32(frame))
		}
		got, err := readAll(t, bytes.NewReader(frame))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("read %d messages, error %v", len(got), err)
		}
		assertMessage(t, got[0], m)
	})
	t.Run("8188_winners", func(t *testing.T) {
		m := Winners{Documents: fullWinners(), Digest: seqDigest}
		frame := encode(t, m)
		if len(frame) != MaxFrameSize {
			t.Fatalf("frame of %d bytes", len(frame))
		}
		got, err := readAll(t, bytes.NewReader(frame))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("read %d messages, error %v", len(got), err)
		}
		assertMessage(t, got[0], m)
	})
	t.Run("8188_batch", func(t *testing.T) {
		m := Batch{First: 3, Bets: fullBatch()}
		frame := encode(t, m)
		if len(frame) != MaxFrameSize {
			t.Fatalf("frame of %d bytes", len(frame))
		}
		got, err := readAll(t, iotest.OneByteReader(bytes.NewReader(frame)))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("read %d messages, error %v", len(got), err)
		}
		assertMessage(t, got[0], m)
	})
	t.Run("8189_with_body", func(t *testing.T) {
		payload := bytes.Repeat([]byte{'e'}, 8188)
		frame := rawFrame(TypeError, payload)
		if binary.BigEndian.Uint32(frame) != 8189 {
			t.Fatal("bad test frame")
		}
		_, err := NewReader(bytes.NewReader(frame)).Read()
		assertErrorIs(t, err, ErrFrameTooLarge)
	})
	for _, n := range []uint32{8189, 8192, 65536, 0x80000000, math.MaxUint32} {
		t.Run(fmt.Sprintf("%d_header_only", n), func(t *testing.T) {
			h := &headerOnly{t: t, header: binary.BigEndian.AppendUint32(nil, n)}
			_, err := NewReader(h).Read()
			assertErrorIs(t, err, ErrFrameTooLarge)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v: the Reader tried to read the body", err)
			}
		})
	}
	t.Run("zero", func(t *testing.T) {
		h := &headerOnly{t: t, header: []byte{0, 0, 0, 0}}
		_, err := NewReader(h).Read()
		assertErrorIs(t, err, ErrEmptyFrame)
	})
	t.Run("zero_followed_by_frame", func(t *testing.T) {
		_, err := NewReader(bytes.NewReader(cat([]byte{0, 0, 0, 0}, encode(t, Health{})))).Read()
		assertErrorIs(t, err, ErrEmptyFrame)
	})
}

// fullWinners returns documents that fill a Winners frame to exactly
// MaxFrameSize bytes: 40 bytes of header (with the digest), then
// 31×256 + 216 = 8152 of documents.
func fullWinners() []string {
	docs := slicesOf(strings.Repeat("7", 255), 31)
	return append(docs, strings.Repeat("8", 215))
}

// fullBatch returns bets that fill a Batch frame to exactly MaxFrameSize
// bytes: 15 bytes of header, 7 bets of 1026 bytes and one of 995.
func fullBatch() []lottery.Bet {
	s := strings.Repeat("ñ", 127) + "a" // 255 bytes
	big := lottery.Bet{FirstName: s, LastName: s, Document: s, Birthdate: s, Number: 9}
	bets := slicesOfBet(big, 7)
	last := big
	last.Birthdate = strings.Repeat("b", 224)
	return append(bets, last)
}

func TestUnknownType(t *testing.T) {
	for _, typ := range []Type{0x00, 0x07, 0x7F, 0x80, 0x88, 0xFE} {
		t.Run(typ.String(), func(t *testing.T) {
			m, err := Decode(typ, nil)
			assertErrorIs(t, err, ErrUnknownType)
			if m != nil {
				t.Errorf("Decode returned %#v", m)
			}
			_, err = NewReader(bytes.NewReader(rawFrame(typ, []byte{1, 2, 3}))).Read()
			assertErrorIs(t, err, ErrUnknownType)
			if errors.Is(err, ErrMalformed) {
				t.Errorf("unknown type reported as malformed: %v", err)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	bet := cat(str8("Ana"), str8("Paz"), str8("1"), str8("2000-01-01"), be16(7574))
	dg := seqDigest[:]
	tests := []struct {
		name    string
		typ     Type
		payload []byte
	}{
		{"hello_empty", TypeHello, nil},
		{"hello_short", TypeHello, []byte{0, 0, 1}},
		{"hello_short_version", TypeHello, []byte{0, 0, 0, 1, 0}},
		{"hello_trailing", TypeHello, []byte{0, 0, 0, 1, 0, 2, 0}},
		{"done_short", TypeDone, make([]byte, 7)},
		{"done_trailing", TypeDone, make([]byte, 9)},
		{"winners_query_trailing", TypeWinnersQuery, []byte{0}},
		{"health_trailing", TypeHealth, []byte{0}},
		{"welcome_short", TypeWelcome, make([]byte, 8)},
		{"welcome_version_1", TypeWelcome, make([]byte, 9)}, // no digest
		{"welcome_short_digest", TypeWelcome, make([]byte, 9+31)},
		{"welcome_trailing", TypeWelcome, make([]byte, 9+33)},
		{"done_ack_empty", TypeDoneAck, nil},
		{"done_ack_no_digest", TypeDoneAck, make([]byte, 8)},
		{"done_ack_short_digest", TypeDoneAck, make([]byte, 8+31)},
		{"done_ack_trailing", TypeDoneAck, make([]byte, 8+33)},
		{"ack_short", TypeAck, make([]byte, 1)},
		{"ack_trailing", TypeAck, make([]byte, 9)},
		{"not_yet_trailing", TypeNotYet, []byte{'x'}},
		{"health_ok_short", TypeHealthOK, make([]byte, 4)},
		{"health_ok_trailing", TypeHealthOK, make([]byte, 6)},
		{"declare_empty", TypeDeclare, nil},
		{"declare_no_digest", TypeDeclare, make([]byte, 8)},
		{"declare_short_digest", TypeDeclare, make([]byte, 8+31)},
		{"declare_trailing", TypeDeclare, make([]byte, 8+33)},
		{"waiting_empty", TypeWaiting, nil},
		{"waiting_no_deadline", TypeWaiting, make([]byte, 4)},
		{"waiting_short", TypeWaiting, make([]byte, 11)},
		{"waiting_trailing", TypeWaiting, make([]byte, 13)},
		{"batch_empty", TypeBatch, nil},
		{"batch_short_header", TypeBatch, make([]byte, 9)},
		{"batch_count_too_large", TypeBatch, cat(be64(0), be16(2), bet)},
		{"batch_count_max", TypeBatch, cat(be64(0), be16(0xFFFF), bet)},
		{"batch_string_past_end", TypeBatch, cat(be64(0), be16(1), []byte{5, 'a', 'b', 'c', 0, 0})},
		{"batch_missing_number", TypeBatch, cat(be64(0), be16(1), str8("Ana"), str8("Paz"), str8("1"), str8("2000-01-01"), []byte{0x1d})},
		{"batch_trailing", TypeBatch, cat(be64(0), be16(1), bet, []byte{0})},
		{"batch_first_name_utf8", TypeBatch, cat(be64(0), be16(1), str8("\xff"), str8("Paz"), str8("1"), str8("2000-01-01"), be16(1))},
		{"batch_last_name_utf8", TypeBatch, cat(be64(0), be16(1), str8("Ana"), str8("Pa\xc3"), str8("1"), str8("2000-01-01"), be16(1))},
		{"batch_document_utf8", TypeBatch, cat(be64(0), be16(1), str8("Ana"), str8("Paz"), str8("\xed\xa0\x80"), str8("2000-01-01"), be16(1))},
		{"batch_birthdate_utf8", TypeBatch, cat(be64(0), be16(2), bet, str8("Ana"), str8("Paz"), str8("1"), str8("2000-01-0\x80"), be16(1))},
		{"winners_empty", TypeWinners, nil},
		{"winners_short", TypeWinners, cat([]byte{0}, dg, []byte{0})},
		{"winners_version_1", TypeWinners, cat([]byte{0}, be16(1), str8("1"))}, // no digest
		{"winners_short_digest", TypeWinners, cat([]byte{0}, dg[:31])},
		{"winners_count_too_large", TypeWinners, cat([]byte{0}, dg, be16(3), str8("1"))},
		{"winners_count_max", TypeWinners, cat([]byte{0}, dg, be16(0xFFFF), str8("1"))},
		{"winners_string_past_end", TypeWinners, cat([]byte{0}, dg, be16(1), []byte{9, '1', '2'})},
		{"winners_utf8", TypeWinners, cat([]byte{1}, dg, be16(1), str8("12\xfe"))},
		{"winners_trailing", TypeWinners, cat([]byte{0}, dg, be16(1), str8("1"), []byte{0})},
		{"error_empty", TypeError, nil},
		{"error_no_message_length", TypeError, []byte{byte(CodeBusy)}},
		{"error_message_past_end", TypeError, cat([]byte{byte(CodeBusy)}, be16(10), []byte("busy"))},
		{"error_utf8", TypeError, cat([]byte{byte(CodeBusy)}, be16(2), []byte("\xc3("))},
		{"error_cut_rune", TypeError, cat([]byte{byte(CodeBusy)}, be16(1), []byte("\xc3"))},
		{"error_trailing", TypeError, cat([]byte{byte(CodeBusy)}, be16(1), []byte("ab"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.typ, tc.payload)
			assertErrorIs(t, err, ErrMalformed)
			if m != nil {
				t.Errorf("Decode returned %#v with error %v", m, err)
			}
			got, err := readAll(t, bytes.NewReader(rawFrame(tc.typ, tc.payload)))
			assertErrorIs(t, err, ErrMalformed)
			if len(got) != 0 {
				t.Errorf("Read returned %#v", got)
			}
		})
	}
}

func TestBatchEncoderMaxBets(t *testing.T) {
	e := NewBatchEncoder(3)
	e.Reset(10)
	for i, b := range sampleBets[:3] {
		ok, err := e.Add(b)
		if !ok || err != nil {
			t.Fatalf("Add #%d = %v, %v", i, ok, err)
		}
	}
	before := bytes.Clone(e.Frame())
	ok, err := e.Add(sampleBets[3])
	if ok || err != nil {
		t.Fatalf("Add to a full batch = %v, %v; want false, nil", ok, err)
	}
	if e.Len() != 3 {
		t.Errorf("Len() = %d, want 3", e.Len())
	}
	if !bytes.Equal(e.Frame(), before) {
		t.Error("a refused Add changed the frame")
	}
	assertBatchFrame(t, e.Frame(), Batch{First: 10, Bets: sampleBets[:3]})
}

func TestBatchEncoderCapsCount(t *testing.T) {
	// A count over 16 bits is capped; the frame limit then stops a batch of
	// empty bets (6 bytes each) long before.
	e := NewBatchEncoder(1 << 20)
	n := 0
	for {
		ok, err := e.Add(lottery.Bet{})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
	}
	if want := (MaxFrameSize - batchHeaderSize) / minBetSize; n != want {
		t.Errorf("batch took %d empty bets, want %d", n, want)
	}
	frame := e.Frame()
	if len(frame) > MaxFrameSize {
		t.Errorf("frame of %d bytes", len(frame))
	}
	assertBatchFrame(t, frame, Batch{First: 0, Bets: make([]lottery.Bet, n)})
}

// TestBatchEncoderLongNames feeds an encoder bets with 255-byte names and
// sends a frame each time Add refuses: no frame may pass MaxFrameSize, and
// the frames must carry every bet, in order, with the right First.
func TestBatchEncoderLongNames(t *testing.T) {
	for _, maxBets := range []int{1, 3, 7, 100, 0xFFFF} {
		t.Run(fmt.Sprint(maxBets), func(t *testing.T) {
			var bets []lottery.Bet
			for i := 0; i < 100; i++ {
				name := strings.Repeat(string(rune('A'+i%26)), 255)
				bets = append(bets, lottery.Bet{
					FirstName: name, LastName: strings.Repeat("é", 127) + "z",
					Document: fmt.Sprintf("%08d", i), Birthdate: "1990-05-17", Number: i * 97 % 10000,
				})
			}
			e := NewBatchEncoder(maxBets)
			var frames [][]byte
			var next uint64
			flush := func() {
				t.Helper()
				frames = append(frames, bytes.Clone(e.Frame()))
				next += uint64(e.Len())
				e.Reset(next)
			}
			for i, b := range bets {
				ok, err := e.Add(b)
				if err != nil {
					t.Fatalf("Add #%d: %v", i, err)
				}
				if ok {
					continue
				}
				before := bytes.Clone(e.Frame())
				if e.Len() == 0 {
					t.Fatalf("Add #%d refused into an empty batch", i)
				}
				flush()
				if !bytes.Equal(frames[len(frames)-1], before) {
					t.Fatal("Frame changed between calls")
				}
				if ok, err := e.Add(b); !ok || err != nil {
					t.Fatalf("Add #%d into a fresh batch = %v, %v", i, ok, err)
				}
			}
			flush()

			var got []lottery.Bet
			var first uint64
			for i, frame := range frames {
				if len(frame) > MaxFrameSize {
					t.Errorf("frame %d is %d bytes", i, len(frame))
				}
				m, err := Decode(TypeBatch, frame[HeaderSize:])
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				b := m.(Batch)
				if b.First != first {
					t.Errorf("frame %d: First = %d, want %d", i, b.First, first)
				}
				if len(b.Bets) > maxBets {
					t.Errorf("frame %d: %d bets, max %d", i, len(b.Bets), maxBets)
				}
				first += uint64(len(b.Bets))
				got = append(got, b.Bets...)
			}
			if !reflect.DeepEqual(got, bets) {
				t.Error("bets decoded from the frames differ from the bets added")
			}
			// A bet here is 4+255+255+8+10+2 = 534 bytes, so a frame holds
			// 15 of them: beyond that the frame limit splits the batches.
			if want := (len(bets) + min(maxBets, 15) - 1) / min(maxBets, 15); len(frames) != want {
				t.Errorf("%d frames, want %d", len(frames), want)
			}
		})
	}
}

// TestBatchEncoderExactFit fills a frame to exactly MaxFrameSize bytes; one
// byte more is refused.
func TestBatchEncoderExactFit(t *testing.T) {
	bets := fullBatch()
	e := NewBatchEncoder(100)
	e.Reset(1000)
	for i, b := range bets {
		if ok, err := e.Add(b); !ok || err != nil {
			t.Fatalf("Add #%d = %v, %v", i, ok, err)
		}
	}
	if n := len(e.Frame()); n != MaxFrameSize {
		t.Fatalf("frame of %d bytes, want %d", n, MaxFrameSize)
	}
	assertBatchFrame(t, e.Frame(), Batch{First: 1000, Bets: bets})
	before := bytes.Clone(e.Frame())
	if ok, err := e.Add(lottery.Bet{}); ok || err != nil {
		t.Errorf("Add to a full frame = %v, %v; want false, nil", ok, err)
	}
	if !bytes.Equal(e.Frame(), before) || e.Len() != len(bets) {
		t.Error("a refused Add changed the batch")
	}

	e.Reset(0)
	for _, b := range bets[:7] {
		if ok, err := e.Add(b); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
	}
	over := bets[7]
	over.Birthdate += "b" // 1 byte more than fits
	if ok, err := e.Add(over); ok || err != nil {
		t.Errorf("Add one byte over the frame = %v, %v; want false, nil", ok, err)
	}
	assertBatchFrame(t, e.Frame(), Batch{First: 0, Bets: bets[:7]})
}

func TestBatchEncoderReset(t *testing.T) {
	e := NewBatchEncoder(10)
	assertBatchFrame(t, e.Frame(), Batch{First: 0, Bets: []lottery.Bet{}})
	for _, b := range sampleBets {
		if ok, err := e.Add(b); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
	}
	assertBatchFrame(t, e.Frame(), Batch{First: 0, Bets: sampleBets})
	e.Reset(math.MaxUint64 - 1)
	if e.Len() != 0 {
		t.Errorf("Len() = %d after Reset", e.Len())
	}
	assertBatchFrame(t, e.Frame(), Batch{First: math.MaxUint64 - 1, Bets: []lottery.Bet{}})
	for _, b := range sampleBets[3:] {
		if ok, err := e.Add(b); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
	}
	assertBatchFrame(t, e.Frame(), Batch{First: math.MaxUint64 - 1, Bets: sampleBets[3:]})
	e.Reset(0)
	assertBatchFrame(t, e.Frame(), Batch{First: 0, Bets: []lottery.Bet{}})
}

func TestBatchEncoderInvalidBet(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, bad := range []lottery.Bet{{Number: -1}, {Number: 65536}, {FirstName: long}, {Birthdate: long}} {
		e := NewBatchEncoder(10)
		e.Reset(4)
		if ok, err := e.Add(sampleBets[0]); !ok || err != nil {
			t.Fatalf("Add = %v, %v", ok, err)
		}
		before := bytes.Clone(e.Frame())
		if ok, err := e.Add(bad); ok || err == nil {
			t.Errorf("Add(%.40v) = %v, %v; want false and an error", bad, ok, err)
		}
		if !bytes.Equal(e.Frame(), before) || e.Len() != 1 {
			t.Errorf("Add(%.40v) changed the batch", bad)
		}
		if ok, err := e.Add(sampleBets[1]); !ok || err != nil {
			t.Fatalf("Add after a refused bet = %v, %v", ok, err)
		}
		assertBatchFrame(t, e.Frame(), Batch{First: 4, Bets: sampleBets[:2]})
	}
}

// assertBatchFrame checks that frame is a well-formed Batch frame holding
// want, both by Decode and through a Reader.
func assertBatchFrame(t *testing.T, frame []byte, want Batch) {
	t.Helper()
	if len(frame) < batchHeaderSize || len(frame) > MaxFrameSize {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
		t.Errorf("length field %d, frame is %d bytes", n, len(frame))
	}
	if Type(frame[4]) != TypeBatch {
		t.Errorf("type 0x%02x, want batch", frame[4])
	}
	m, err := Decode(TypeBatch, frame[HeaderSize:])
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	assertMessage(t, m, want)
	if enc := encode(t, want); !bytes.Equal(enc, frame) {
		t.Errorf("BatchEncoder frame differs from AppendFrame's")
	}
	got, err := readAll(t, bytes.NewReader(frame))
	if err != io.EOF || len(got) != 1 {
		t.Fatalf("Reader: %d messages, error %v", len(got), err)
	}
	assertMessage(t, got[0], want)
}

func TestSplitWinners(t *testing.T) {
	digits8 := make([]string, 5000)
	for i := range digits8 {
		digits8[i] = fmt.Sprintf("%08d", 10000000+i*3)
	}
	long := make([]string, 100)
	for i := range long {
		long[i] = strings.Repeat(string(rune('0'+i%10)), 255)
	}
	mixed := make([]string, 3000)
	for i := range mixed {
		mixed[i] = strings.Repeat("1", i%17)
	}
	tests := []struct {
		name     string
		docs     []string
		messages int // 0: do not check
	}{
		{"empty", nil, 1},
		{"empty_slice", []string{}, 1},
		{"one", []string{"30904465"}, 1},
		{"8_digits_5000", digits8, 6},   // 905 documents of 9 bytes per frame
		{"255_bytes_100", long, 4},      // 31 documents of 256 bytes per frame
		{"exact_fit", fullWinners(), 1}, // 8152 bytes of documents
		{"exact_fit_plus_one", append(fullWinners(), "1"), 2},
		{"exact_fit_last_one_byte_longer", append(fullWinners()[:31], strings.Repeat("8", 216)), 2},
		{"empty_documents", make([]string, 10000), 2}, // 8152 per frame
		{"mixed", mixed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs := SplitWinners(tc.docs, seqDigest)
			if tc.messages != 0 && len(msgs) != tc.messages {
				t.Errorf("%d messages, want %d", len(msgs), tc.messages)
			}
			var all []string
			var stream []byte
			for i, m := range msgs {
				if last := i == len(msgs)-1; m.More == last {
					t.Errorf("message %d of %d: More = %v", i, len(msgs), m.More)
				}
				if m.Digest != seqDigest {
					t.Errorf("message %d of %d: digest %v, want %v", i, len(msgs), m.Digest, seqDigest)
				}
				if len(m.Documents) == 0 && len(msgs) > 1 {
					t.Errorf("message %d of %d has no documents", i, len(msgs))
				}
				frame, err := AppendFrame(nil, m)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if len(frame) > MaxFrameSize {
					t.Errorf("message %d: frame of %d bytes", i, len(frame))
				}
				stream = append(stream, frame...)
				all = append(all, m.Documents...)
			}
			if len(all) != len(tc.docs) || (len(all) > 0 && !reflect.DeepEqual(all, tc.docs)) {
				t.Errorf("documents of the messages (%d) differ from the input (%d)", len(all), len(tc.docs))
			}
			got, err := readAll(t, bytes.NewReader(stream))
			if err != io.EOF || len(got) != len(msgs) {
				t.Fatalf("read %d of %d messages, error %v", len(got), len(msgs), err)
			}
			var read []string
			for _, m := range got {
				w := m.(Winners)
				if w.Digest != seqDigest {
					t.Errorf("a frame read back has digest %v, want %v", w.Digest, seqDigest)
				}
				read = append(read, w.Documents...)
			}
			if len(read) != len(tc.docs) || (len(read) > 0 && !reflect.DeepEqual(read, tc.docs)) {
				t.Error("documents read back differ from the input")
			}
		})
	}
}

// TestSplitWinnersBoundary checks SplitWinners' accounting at the frame
// limit, where the digest counts: documents that fill a frame to exactly
// MaxFrameSize bytes stay in one frame; one byte more moves the last
// document to a second frame.
func TestSplitWinnersBoundary(t *testing.T) {
	full := SplitWinners(fullWinners(), ffDigest)
	if len(full) != 1 {
		t.Fatalf("documents that fill one frame: %d messages, want 1", len(full))
	}
	if n := len(encode(t, full[0])); n != MaxFrameSize {
		t.Errorf("frame of %d bytes, want %d", n, MaxFrameSize)
	}

	docs := append(fullWinners()[:31], strings.Repeat("8", 216))
	over := SplitWinners(docs, ffDigest)
	if len(over) != 2 {
		t.Fatalf("one byte over a frame: %d messages, want 2", len(over))
	}
	if len(over[0].Documents) != 31 || !over[0].More || len(over[1].Documents) != 1 || over[1].More {
		t.Errorf("split into %d (more %v) and %d (more %v) documents, want 31 (more) and 1 (last)",
			len(over[0].Documents), over[0].More, len(over[1].Documents), over[1].More)
	}
	// The first frame is a full one without its last document's 216 bytes.
	if n := len(encode(t, over[0])); n != MaxFrameSize-216 {
		t.Errorf("first frame of %d bytes, want %d", n, MaxFrameSize-216)
	}
	for i, m := range over {
		if m.Digest != ffDigest {
			t.Errorf("message %d: digest %v, want %v", i, m.Digest, ffDigest)
		}
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		code      Code
		name      string
		closes    bool
		retryable bool
	}{
		{CodeMalformed, "malformed", true, false},
		{CodeUnknownType, "unknown_type", true, false},
		{CodeFrameTooLarge, "frame_too_large", true, false},
		{CodeInvalidBet, "invalid_bet", false, false},
		{CodeUnexpected, "unexpected", true, false},
		{CodeBadAgency, "bad_agency", true, false},
		{CodeOutOfOrder, "out_of_order", true, true},
		{CodeDrawClosed, "draw_closed", false, false},
		{CodeIncomplete, "incomplete", false, false},
		{CodeBusy, "busy", true, true},
		{CodeUnavailable, "unavailable", true, true},
		{CodeSuperseded, "superseded", true, true},
		{CodeTimeout, "timeout", true, true},
		{CodeVersion, "version", true, false},
		{CodeTLSRequired, "tls_required", true, false},
		{CodeForbidden, "forbidden", true, false},
		{0, "code_0", true, false},
		{17, "code_17", true, false},
		{255, "code_255", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.code.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
			if got := tc.code.Closes(); got != tc.closes {
				t.Errorf("Closes() = %v, want %v", got, tc.closes)
			}
			if got := tc.code.Retryable(); got != tc.retryable {
				t.Errorf("Retryable() = %v, want %v", got, tc.retryable)
			}
		})
	}
}

func TestTypeString(t *testing.T) {
	tests := map[Type]string{
		TypeHello: "hello", TypeBatch: "batch", TypeDone: "done",
		TypeWinnersQuery: "winners_query", TypeHealth: "health",
		TypeWelcome: "welcome", TypeAck: "ack", TypeWinners: "winners",
		TypeNotYet: "not_yet", TypeHealthOK: "health_ok", TypeDoneAck: "done_ack",
		TypeDeclare: "declare", TypeWaiting: "waiting", TypeError: "error",
		0x00: "type_0x00", 0x07: "type_0x07", 0x88: "type_0x88",
	}
	for typ, want := range tests {
		if got := typ.String(); got != want {
			t.Errorf("Type(0x%02x).String() = %q, want %q", uint8(typ), got, want)
		}
	}
}

func TestErrorIsError(t *testing.T) {
	var err error = &Error{Code: CodeOutOfOrder, Message: "expected 10"}
	if got, want := err.Error(), "central refused: out_of_order: expected 10"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var pe *Error
	if !errors.As(fmt.Errorf("send: %w", err), &pe) || pe.Code != CodeOutOfOrder {
		t.Error("errors.As does not find the *Error")
	}
}

// TestErrorTruncated checks that an Error message too long for a frame is
// cut to fit, on a rune boundary, and still decodes.
func TestErrorTruncated(t *testing.T) {
	const room = MaxFrameSize - HeaderSize - 3
	tests := []struct {
		name string
		msg  string
	}{
		{"ascii_fits", strings.Repeat("a", room)},
		{"ascii_one_over", strings.Repeat("a", room+1)},
		{"ascii_huge", strings.Repeat("a", 100000)},
		{"two_byte_runes", "a" + strings.Repeat("ñ", 5000)}, // cut falls inside a rune
		{"three_byte_runes", strings.Repeat("€", 3000)},     // 8184 = 3×2728: cut on a boundary
		{"three_byte_runes_shifted", "ab" + strings.Repeat("€", 3000)},
		{"four_byte_runes", "a" + strings.Repeat("🎲", 3000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame := encode(t, &Error{Code: CodeInvalidBet, Message: tc.msg})
			if len(frame) > MaxFrameSize {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			got, err := readAll(t, bytes.NewReader(frame))
			if err != io.EOF || len(got) != 1 {
				t.Fatalf("read %d messages, error %v", len(got), err)
			}
			e := got[0].(*Error)
			if e.Code != CodeInvalidBet {
				t.Errorf("code %v", e.Code)
			}
			if !utf8.ValidString(e.Message) || !strings.HasPrefix(tc.msg, e.Message) {
				t.Errorf("message of %d bytes is not a valid UTF-8 prefix of the original", len(e.Message))
			}
			if len(tc.msg) <= room {
				if e.Message != tc.msg {
					t.Errorf("message that fits was changed to %d bytes", len(e.Message))
				}
			} else if len(e.Message) < room-utf8.UTFMax+1 {
				t.Errorf("message cut to %d bytes, more than a rune short of %d", len(e.Message), room)
			}
		})
	}
}

// TestHas checks which messages a connection of each version may carry:
// version 2 peers never see Declare or Waiting.
func TestHas(t *testing.T) {
	tests := []struct {
		version uint16
		typ     Type
		want    bool
	}{
		{2, TypeHello, true},
		{2, TypeWinnersQuery, true},
		{2, TypeDeclare, false},
		{2, TypeWaiting, false},
		{3, TypeDeclare, true},
		{3, TypeWaiting, true},
		{3, TypeNotYet, true},
	}
	for _, tc := range tests {
		if got := Has(tc.version, tc.typ); got != tc.want {
			t.Errorf("Has(%d, %v) = %v, want %v", tc.version, tc.typ, got, tc.want)
		}
	}
	if MinVersion >= Version {
		t.Errorf("MinVersion %d is not older than Version %d: nothing to negotiate", MinVersion, Version)
	}
}

// TestWaitingDeadline checks that the zero time is no deadline, and that
// a deadline comes back to the millisecond.
func TestWaitingDeadline(t *testing.T) {
	if _, ok := WaitingUntil(2, 1, time.Time{}).Deadline(); ok {
		t.Error("WaitingUntil with the zero time has a deadline")
	}
	at := time.Date(2026, 1, 1, 21, 0, 0, 123456789, time.UTC)
	got, ok := WaitingUntil(2, 1, at).Deadline()
	if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
		t.Errorf("Deadline() = %v, %v; want %v", got, ok, at.Truncate(time.Millisecond))
	}
}
