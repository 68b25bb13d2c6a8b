package lottery

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Digest is a SHA-256 that commits to a set of bets: an agency's digest
// commits to its stored bets and their order, the draw's digest to every
// agency's. Anyone holding the same bets computes the same digests,
// whatever the backend, the batches they travelled in, or the order in
// which different agencies' batches arrived.
//
// An agency's digest is the SHA-256 of its bets in position order, each
// rendered as its canonical row (see AppendRow), the row bets.csv keeps.
// The ledger, which stores the rows, computes it as it stores them (see
// Receipt); an agency computes it over its own file; both with a Hasher.
type Digest [sha256.Size]byte

// EmptyDigest is the digest of no bets: the SHA-256 of nothing.
var EmptyDigest = Digest(sha256.Sum256(nil))

// String returns the digest in lowercase hexadecimal, as logs and the
// verify command print it.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest parses a digest as String prints it.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, fmt.Errorf("digest %q: want %d hexadecimal digits", s, 2*len(d))
	}
	copy(d[:], b)
	return d, nil
}

// DrawDigest is the draw's digest: the SHA-256 of the digests of agencies
// 1..len(agencies), in agency order, 32 bytes each. agencies[i] is agency
// i+1's digest; an agency that stored no bets has EmptyDigest.
func DrawDigest(agencies []Digest) Digest {
	h := sha256.New()
	for _, d := range agencies {
		h.Write(d[:])
	}
	return sumDigest(h)
}

// WinnersDigest commits to a draw's answer: the SHA-256 of its winners'
// lines (AppendWinners). A draw held again over the same bets must give
// the same one.
func WinnersDigest(winners map[int][]string, agencies int) Digest {
	return Digest(sha256.Sum256(AppendWinners(nil, winners, agencies)))
}

// AppendWinners appends the draw's winners to dst as lines
// "agency,document\n", one per winning bet, agencies 1..agencies in order
// and each agency's winners in storage order: the bytes WinnersDigest
// hashes, and the form in which a ledger may keep them (ParseWinners
// reads them back).
func AppendWinners(dst []byte, winners map[int][]string, agencies int) []byte {
	for a := 1; a <= agencies; a++ {
		for _, doc := range winners[a] {
			dst = strconv.AppendInt(dst, int64(a), 10)
			dst = append(append(append(dst, ','), doc...), '\n')
		}
	}
	return dst
}

// ParseWinners reads lines written by AppendWinners.
func ParseWinners(lines []byte) (map[int][]string, error) {
	winners := make(map[int][]string)
	for rest := string(lines); rest != ""; {
		line, after, ok := strings.Cut(rest, "\n")
		a, doc, comma := strings.Cut(line, ",")
		agency, err := strconv.Atoi(a)
		if !ok || !comma || err != nil || agency < 1 {
			return nil, fmt.Errorf("winners line %q: want agency,document", line)
		}
		winners[agency] = append(winners[agency], doc)
		rest = after
	}
	return winners, nil
}

func sumDigest(h hash.Hash) Digest {
	var d Digest
	h.Sum(d[:0])
	return d
}

// Hasher computes an agency's digest as its bets come, one at a time or
// in batches, without keeping them: the central's storage keeps one per
// agency while bets.csv grows, and an agency one while it reads its file.
// Having the one definition here is what makes the two agree.
//
// A Hasher's state can be saved mid-way (Clone) and carried on from
// later: storage plans a batch on a copy and keeps the copy only once the
// batch is written, so that a batch that fails leaves the digest as it was.
type Hasher struct {
	h hash.Hash // SHA-256 of the rows so far, but those pending
	// pending holds the rows Add rendered and h has not taken yet: SHA-256
	// takes 64-byte blocks, and one Write of a few kilobytes costs far
	// less than a Write per row of about fifty bytes.
	pending []byte
}

// hashChunk is how many bytes of rows Add gathers before it hashes them.
const hashChunk = 4 << 10

// NewHasher returns a Hasher of no bets: its Sum is EmptyDigest.
func NewHasher() *Hasher {
	return &Hasher{h: sha256.New()}
}

// Add hashes bet as agency's next bet, rendered by AppendRow. It does not
// allocate once its buffer has grown to hashChunk and the longest row.
func (h *Hasher) Add(agency int, bet Bet) {
	h.pending = AppendRow(h.pending, agency, bet)
	if len(h.pending) >= hashChunk {
		h.flush()
	}
}

// flush hashes the pending rows.
func (h *Hasher) flush() {
	if len(h.pending) > 0 {
		h.h.Write(h.pending)
		h.pending = h.pending[:0]
	}
}

// Write hashes rows already rendered by AppendRow, as storage holds them
// in bets.csv; it never fails. Bytes that are not such rows give a digest
// that no one holding the bets computes.
func (h *Hasher) Write(rows []byte) (int, error) {
	h.flush()
	return h.h.Write(rows)
}

// Sum returns the digest of the bets hashed so far; more may be added.
func (h *Hasher) Sum() Digest {
	h.flush()
	return sumDigest(h.h)
}

// Clone returns an independent copy of h: bets added to one do not change
// the other's digest.
func (h *Hasher) Clone() *Hasher {
	h.flush()
	c, err := h.h.(hash.Cloner).Clone()
	if err != nil {
		panic(fmt.Sprintf("lottery: clone SHA-256: %v", err)) // crypto/sha256's never fails
	}
	return &Hasher{h: c}
}

// MarshalBinary saves h's state: a backend that keeps each agency's
// digest in a database row carries it on from there, without reading the
// agency's bets again. The bytes are crypto/sha256's own encoding.
func (h *Hasher) MarshalBinary() ([]byte, error) {
	h.flush()
	return h.h.(encoding.BinaryMarshaler).MarshalBinary()
}

// UnmarshalBinary restores a state saved by MarshalBinary.
func (h *Hasher) UnmarshalBinary(state []byte) error {
	s := sha256.New()
	if err := s.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return fmt.Errorf("restore an agency's digest: %w", err)
	}
	h.h, h.pending = s, h.pending[:0]
	return nil
}
