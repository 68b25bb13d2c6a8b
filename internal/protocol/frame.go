package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxFrameSize is the largest frame, header included, that either side sends
// or accepts.
const MaxFrameSize = 8192

// HeaderSize is the size of a frame's header: the length and the type.
const HeaderSize = 5

// maxBody is the largest value of a frame's length field.
const maxBody = MaxFrameSize - HeaderSize + 1

// Errors a Reader returns for frames it cannot accept. After any of them the
// stream is in an unknown state and must be closed.
var (
	ErrFrameTooLarge = errors.New("frame larger than 8192 bytes")
	ErrEmptyFrame    = errors.New("frame with no type")
	ErrUnknownType   = errors.New("unknown message type")
	ErrMalformed     = errors.New("malformed payload")
)

// Reader reads frames from a stream.
type Reader struct {
	r    *bufio.Reader
	body [maxBody]byte
}

// NewReader returns a Reader that reads from r through a buffer sized to
// hold a whole frame.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, MaxFrameSize)}
}

// ReadFrame reads one frame and returns its type and payload. The payload
// is only valid until the next call.
//
// It returns io.EOF when the stream ends between frames, and
// io.ErrUnexpectedEOF when it ends inside one.
func (r *Reader) ReadFrame() (Type, []byte, error) {
	var length [4]byte
	if _, err := io.ReadFull(r.r, length[:]); err != nil {
		return 0, nil, err // io.EOF only when no byte of the frame came
	}
	n := binary.BigEndian.Uint32(length[:])
	if n == 0 {
		return 0, nil, ErrEmptyFrame
	}
	if n > maxBody {
		return 0, nil, fmt.Errorf("%w: length %d", ErrFrameTooLarge, n)
	}
	body := r.body[:n]
	if _, err := io.ReadFull(r.r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return Type(body[0]), body[1:], nil
}

// Read reads and decodes one message.
func (r *Reader) Read() (Message, error) {
	t, payload, err := r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return Decode(t, payload)
}

// Writer writes frames to a buffered stream. Frames wait in the buffer
// until Flush (or until the buffer, one frame long, fills), so a side that
// answers several frames at once pays for one write.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer whose buffer holds a whole frame.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, MaxFrameSize), buf: make([]byte, 0, MaxFrameSize)}
}

// Write encodes m into the buffer.
func (w *Writer) Write(m Message) error {
	frame, err := AppendFrame(w.buf[:0], m)
	if err != nil {
		return err
	}
	return w.WriteFrame(frame)
}

// WriteFrame writes an encoded frame, such as BatchEncoder.Frame returns,
// into the buffer.
func (w *Writer) WriteFrame(frame []byte) error {
	_, err := w.w.Write(frame)
	return err
}

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	return w.w.Flush()
}

// Buffered reports how many bytes wait for Flush.
func (w *Writer) Buffered() int {
	return w.w.Buffered()
}

// AppendFrame appends the frame of m to dst.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(m.Type()))
	dst, err := m.appendPayload(dst)
	if err != nil {
		return dst[:start], fmt.Errorf("encode %v: %w", m.Type(), err)
	}
	n := len(dst) - start
	if n > MaxFrameSize {
		return dst[:start], fmt.Errorf("encode %v: %w", m.Type(), ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n-4))
	return dst, nil
}
