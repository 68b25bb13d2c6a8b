package server

import (
	"context"
	"net"
	"time"

	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// readClock is the one owner of a connection's read deadline. The
// connection's protocol.Reader reads through it, so it sees every byte as
// it arrives, and before each read it sets the deadline that applies:
//
//   - until Hello is complete, the Hello deadline: the connection's
//     accept time plus Settings.HelloTimeout, one absolute instant that no
//     byte moves, for the first frame whatever it is;
//   - after Hello, while the central waits for a frame's first byte,
//     PeerTimeout from when it began to wait: a silent peer ("nothing
//     received");
//   - once a frame has begun, PeerTimeout from its first byte: a frame
//     trickled a byte at a time is closed when that passes, however
//     steadily its bytes come.
//
// A Read never waits past the deadline, and never starts once the
// connection's context is done: the deadline is set, then the context
// checked, so that newConn's AfterFunc (which sets the deadline to now
// when the context ends) cannot be undone by it.
type readClock struct {
	nc      net.Conn
	ctx     context.Context
	timeout time.Duration // Settings.PeerTimeout
	hello   time.Duration // Settings.HelloTimeout, for the reasons
	helloBy time.Time     // the Hello deadline; zero once Hello is complete

	waitSince  time.Time // when the central began to wait for this frame
	frameStart time.Time // when its first byte came; zero until then
	// Bytes read from nc and bytes of whole frames taken out of the
	// Reader: more read than taken means the next frame has begun in the
	// Reader's buffer.
	read, taken int64

	set time.Time // the deadline last set on nc
}

func newReadClock(ctx context.Context, nc net.Conn, accepted time.Time, s Settings) *readClock {
	return &readClock{nc: nc, ctx: ctx, timeout: s.PeerTimeout, hello: s.HelloTimeout, helloBy: accepted.Add(s.HelloTimeout)}
}

// Read reads from the connection under the deadline that applies.
func (k *readClock) Read(p []byte) (int, error) {
	if d := k.deadline(); !d.Equal(k.set) {
		k.nc.SetReadDeadline(d)
		k.set = d
	}
	if err := k.ctx.Err(); err != nil {
		return 0, err // checked after setting the deadline: see the type
	}
	n, err := k.nc.Read(p)
	if n > 0 && k.frameStart.IsZero() {
		k.frameStart = time.Now()
	}
	k.read += int64(n)
	return n, err
}

func (k *readClock) deadline() time.Time {
	switch {
	case !k.helloBy.IsZero():
		return k.helloBy
	case k.frameStart.IsZero():
		return k.waitSince.Add(k.timeout)
	default:
		return k.frameStart.Add(k.timeout)
	}
}

// awaitFrame says the central begins to wait for the next frame. A frame
// whose first bytes are already in the Reader's buffer has begun now.
func (k *readClock) awaitFrame() {
	k.waitSince = time.Now()
	k.frameStart = time.Time{}
	if k.read > k.taken {
		k.frameStart = k.waitSince
	}
}

// took says a whole frame with payload bytes of payload left the Reader.
func (k *readClock) took(payload int) {
	k.taken += int64(protocol.HeaderSize + payload)
}

// helloDone ends the Hello deadline: from now on, frames have their own.
func (k *readClock) helloDone() {
	k.helloBy = time.Time{}
}

// excuse runs wait, a wait of the central's own in the middle of a frame
// (for a batch slot), and moves the frame's deadline by as long as it
// took: the peer is answerable only for the time its bytes take.
func (k *readClock) excuse(wait func() error) error {
	start := time.Now()
	err := wait()
	if !k.frameStart.IsZero() {
		k.frameStart = k.frameStart.Add(time.Since(start))
	}
	return err
}

// expired is the refusal of a read whose deadline passed.
func (k *readClock) expired() *refusal {
	switch {
	case !k.helloBy.IsZero():
		return refuse(protocol.CodeTimeout, "hello not completed in %v", k.hello)
	case k.frameStart.IsZero():
		return refuse(protocol.CodeTimeout, "nothing received for %v", k.timeout)
	default:
		return refuse(protocol.CodeTimeout, "frame not completed in %v", k.timeout)
	}
}
