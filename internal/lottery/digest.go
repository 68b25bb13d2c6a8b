package lottery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
)

// Digest is a SHA-256 that commits to a set of bets: an agency's digest
// commits to its stored bets and their order, the draw's digest to every
// agency's. Anyone holding the same bets computes the same digests,
// whatever the backend, the batches they travelled in, or the order in
// which different agencies' batches arrived.
//
// An agency's digest is the SHA-256 of its bets in position order, each
// rendered as its canonical row: the row bets.csv keeps
// (agency,first_name,last_name,document,birthdate,number and a newline,
// with the quoting of package betcsv). The domain does not render rows:
// the ledger, which stores them, computes the digest (see Receipt); an
// agency computes it over its own file with the same rendering.
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

// WinnersDigest commits to a draw's answer: the SHA-256 of one line
// "agency,document\n" per winning bet, agencies 1..agencies in order and
// each agency's winners in storage order. A draw held again over the same
// bets must give the same one.
func WinnersDigest(winners map[int][]string, agencies int) Digest {
	h := sha256.New()
	var line []byte
	for a := 1; a <= agencies; a++ {
		for _, doc := range winners[a] {
			line = strconv.AppendInt(line[:0], int64(a), 10)
			line = append(append(append(line, ','), doc...), '\n')
			h.Write(line)
		}
	}
	return sumDigest(h)
}

func sumDigest(h hash.Hash) Digest {
	var d Digest
	h.Sum(d[:0])
	return d
}
