package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
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
	body *[maxBody - 1]byte // held from ReadFrame to Recycle; pooled between frames
}

// bodies holds frame bodies between frames, so that a central with many
// idle agencies does not keep a frame's worth of memory for each.
var bodies = sync.Pool{New: func() any { return new([maxBody - 1]byte) }}

// bufferSize is the size of a Reader's and a Writer's buffer. It is small
// on purpose: a central holds one of each per agency, and bufio moves a
// read or write larger than its buffer without copying through it, so a
// full frame costs at most one extra system call.
const bufferSize = 1024

// NewReader returns a Reader that reads from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, bufferSize)}
}

// ReadFrame reads one frame and returns its type and payload. The payload
// is only valid until the next call or Recycle.
//
// It returns io.EOF when the stream ends between frames, and
// io.ErrUnexpectedEOF when it ends inside one.
func (r *Reader) ReadFrame() (Type, []byte, error) {
	return r.ReadFrameAdmit(nil)
}

// ReadFrameAdmit is ReadFrame with a say before the payload is read: once
// the frame's length and type are known, admit (when not nil) is called;
// an error from it is returned as it is, with the payload left unread in
// the stream. A central uses it to wait for room before it takes a batch
// in, so that a waiting batch stays in the network, not in memory.
func (r *Reader) ReadFrameAdmit(admit func(Type) error) (Type, []byte, error) {
	var header [HeaderSize]byte
	if _, err := io.ReadFull(r.r, header[:4]); err != nil {
		return 0, nil, err // io.EOF only when no byte of the frame came
	}
	n := binary.BigEndian.Uint32(header[:4])
	if n == 0 {
		return 0, nil, ErrEmptyFrame
	}
	if n > maxBody {
		return 0, nil, fmt.Errorf("%w: length %d", ErrFrameTooLarge, n)
	}
	if _, err := io.ReadFull(r.r, header[4:]); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	t := Type(header[4])
	if admit != nil {
		if err := admit(t); err != nil {
			return 0, nil, err
		}
	}
	if r.body == nil {
		r.body = bodies.Get().(*[maxBody - 1]byte)
	}
	payload := r.body[:n-1]
	if _, err := io.ReadFull(r.r, payload); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return t, payload, nil
}

// unexpectedEOF reports an end of stream inside a frame as such.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Recycle says the last payload is no longer needed, so that its memory
// serves other readers until the next frame.
func (r *Reader) Recycle() {
	if r.body != nil {
		bodies.Put(r.body)
		r.body = nil
	}
}

// Read reads and decodes one message.
func (r *Reader) Read() (Message, error) {
	t, payload, err := r.ReadFrame()
	if err != nil {
		return nil, err
	}
	defer r.Recycle() // Decode copies what it keeps
	return Decode(t, payload)
}

// Writer writes frames to a buffered stream. Frames wait in the buffer
// until Flush (or until the buffer fills), so a side that answers several
// frames at once pays for one write.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, bufferSize)}
}

// Write encodes m into the buffer.
func (w *Writer) Write(m Message) error {
	frame, err := AppendFrame(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = frame // keep the grown scratch space for the next frame
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
