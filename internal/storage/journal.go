package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// The journal, beside bets.csv, says which bytes of bets.csv hold
// acknowledged batches, which agencies have notified and what the draw
// decided. It is a hash chain of fixed-size records (format 3):
//
//	[0]       kind: recordHeader, recordBatch, recordDone, recordDraw or
//	          recordCommit
//	[1]       format, 3
//	[2:4]     zero
//	[4:8]     batch, done: agency; draw: agencies covered, 1..N; uint32 BE
//	[8:16]    batch: its first bet's position; done: the agency's total;
//	          draw: bets evaluated; uint64 BE
//	[16:20]   batch: number of bets; draw: winners; uint32 BE
//	[20:28]   size of bets.csv once this record's rows are in it, uint64 BE
//	[28:60]   batch: SHA-256 of exactly its rows' bytes in bets.csv;
//	          done: the agency's digest; draw: the draw's digest;
//	          header: headerMark
//	[60:92]   draw: the winners' digest; header: the SHA-256 of the
//	          journal of an earlier format it was migrated from; zero
//	          otherwise
//	[92:124]  SHA-256 of the whole previous record; zero in the header
//	[124:128] CRC-32C of bytes 0..123
//
// The file holds the header at byte 0, then two commit slots, then the
// chain's records from byte recordsStart. Each record commits, through
// the chain, to every record and row before it. The CRC tells a whole record from a torn one; the
// hashes tell a record or a row that changed after it was written.
//
// The commit slots say where the last group commit ended: the writer
// overwrites the older slot with each group, once the group's records and
// rows are on disk (see Store.write). So the newer slot names every
// acknowledged record, and the journal cannot lose a record, by a cut or
// a zeroed block, and still look whole: only the records of the one group
// that was being written when the central stopped lie past it.
//
// The header is the first thing read, and the format byte of every later
// format stays at byte 1 of a header at byte 0: a store of a newer format
// is refused, naming both (see checkFormat).
const (
	recordSize    = 128
	journalFormat = 3
	// recordsStart is where the chain's records start: after the header
	// and the two commit slots.
	recordsStart = 3 * recordSize
)

const (
	recordHeader byte = 0
	recordBatch  byte = 1
	recordDone   byte = 2
	recordDraw   byte = 3
	recordCommit byte = 4 // a commit slot, outside the chain
)

// headerMark is the header record's hash field: it names the format, so
// that a journal is never mistaken for another file.
var headerMark = formatMark(journalFormat)

func formatMark(format int) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "quiniela bets.csv journal, format %d", format))
}

// record is one journal record, field by field in the order of the
// format. Its fields are named for a batch; a done record keeps the
// agency's total in first, and a draw record is made by drawRecord and
// read by drawResult, which name what its fields hold.
type record struct {
	kind   byte
	agency uint32   // batch, done: agency; draw: agencies covered
	first  uint64   // batch: first position; done: total; draw: bets
	count  uint32   // batch: bets; draw: winners
	csvEnd int64    // size of bets.csv with this record's rows
	hash   [32]byte // batch: rows; done: agency digest; draw: draw digest
	aux    [32]byte // draw: winners digest
	prev   [32]byte // SHA-256 of the previous record
}

// drawRecord returns the record of a held draw, but for its csvEnd and
// prev: the agencies it covers in agency, the bets evaluated in first, the
// winners in count, the draw's digest in hash and the winners' in aux.
func drawRecord(r lottery.Result) record {
	return record{
		kind:   recordDraw,
		agency: uint32(r.Agencies),
		first:  r.Bets,
		count:  uint32(r.Winners),
		hash:   r.Digest,
		aux:    r.WinnersDigest,
	}
}

// drawResult returns the draw a draw record holds (see drawRecord).
func (r record) drawResult() lottery.Result {
	return lottery.Result{
		Agencies:      int(r.agency),
		Bets:          r.first,
		Winners:       int(r.count),
		Digest:        lottery.Digest(r.hash),
		WinnersDigest: lottery.Digest(r.aux),
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(dst []byte, r record) []byte {
	return appendRecordFormat(dst, r, journalFormat)
}

// appendRecordFormat writes r in format, journalFormat or format 2 (the
// same layout, for tests of the migration).
func appendRecordFormat(dst []byte, r record, format byte) []byte {
	start := len(dst)
	dst = append(dst, r.kind, format, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, r.agency)
	dst = binary.BigEndian.AppendUint64(dst, r.first)
	dst = binary.BigEndian.AppendUint32(dst, r.count)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.csvEnd))
	dst = append(dst, r.hash[:]...)
	dst = append(dst, r.aux[:]...)
	dst = append(dst, r.prev[:]...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// tornZeros is where a torn record's zeros start at the latest: it has at
// least its last 36 bytes (the previous record's hash and the checksum)
// zero. A record written whole never has: those bytes are a SHA-256 and
// a CRC. So no flipped bit makes a whole record look torn.
const tornZeros = 92

// recordFault says why bytes are not a record.
type recordFault int

const (
	recordOK        recordFault = iota
	recordZero                  // ends in zeros: a torn write (see replay)
	recordChecksum              // the CRC does not match
	recordMalformed             // a good CRC over a kind or format this code does not write
)

// parseRecord decodes a record of recordSize bytes of this format.
func parseRecord(b []byte) (record, recordFault) {
	return parseRecordFormat(b, journalFormat)
}

// parseRecordFormat decodes a record of recordSize bytes of format, which
// is journalFormat or 2: format 2 has the same layout, but no commit
// slots, and is migrated (see migrate).
func parseRecordFormat(b []byte, format byte) (record, recordFault) {
	if len(b) != recordSize {
		panic("storage: parseRecord of a short record")
	}
	if crc32.Checksum(b[:124], castagnoli) != binary.BigEndian.Uint32(b[124:]) {
		// A whole record never has a zero hash and checksum; a write
		// that reached the disk only in part does.
		if allZero(b[tornZeros:]) {
			return record{}, recordZero
		}
		return record{}, recordChecksum
	}
	last := recordCommit
	if format != journalFormat {
		last = recordDraw
	}
	if b[0] > last || b[1] != format || b[2] != 0 || b[3] != 0 {
		return record{}, recordMalformed
	}
	r := record{
		kind:   b[0],
		agency: binary.BigEndian.Uint32(b[4:]),
		first:  binary.BigEndian.Uint64(b[8:]),
		count:  binary.BigEndian.Uint32(b[16:]),
		csvEnd: int64(binary.BigEndian.Uint64(b[20:])),
	}
	copy(r.hash[:], b[28:60])
	copy(r.aux[:], b[60:92])
	copy(r.prev[:], b[92:124])
	return r, recordOK
}

func allZero(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0
}

// The journal before hashes (format 1) had 32-byte records:
//
//	[0]      kind (recordBatch or recordDone)
//	[1:4]    zero
//	[4:8]    agency, uint32 BE
//	[8:16]   batch: number of its first bet; done: the agency's total
//	[16:20]  batch: number of bets; done: zero
//	[20:28]  size of bets.csv once this record's rows are in it
//	[28:32]  CRC-32C of bytes 0..27
//
// Open migrates such a journal once (see migrate).
const recordSizeV1 = 32

// parseRecordV1 decodes a format 1 record.
func parseRecordV1(b []byte) (record, recordFault) {
	if crc32.Checksum(b[:28], castagnoli) != binary.BigEndian.Uint32(b[28:32]) {
		if allZero(b) {
			return record{}, recordZero
		}
		return record{}, recordChecksum
	}
	if (b[0] != recordBatch && b[0] != recordDone) || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return record{}, recordMalformed
	}
	return record{
		kind:   b[0],
		agency: binary.BigEndian.Uint32(b[4:]),
		first:  binary.BigEndian.Uint64(b[8:]),
		count:  binary.BigEndian.Uint32(b[16:]),
		csvEnd: int64(binary.BigEndian.Uint64(b[20:])),
	}, recordOK
}

// isFormat1 reports whether a journal's first bytes are a format 1
// record: a journal written before this format, to be migrated.
func isFormat1(head []byte) bool {
	if len(head) < recordSizeV1 {
		return false
	}
	_, fault := parseRecordV1(head[:recordSizeV1])
	return fault == recordOK
}
