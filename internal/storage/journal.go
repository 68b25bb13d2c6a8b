package storage

import (
	"encoding/binary"
	"hash/crc32"
)

// The journal, beside bets.csv, says which bytes of bets.csv hold
// acknowledged batches and which agencies have notified. It is a sequence
// of fixed-size records:
//
//	[0]      kind (recordBatch or recordDone)
//	[1:4]    zero
//	[4:8]    agency, uint32 BE
//	[8:16]   batch: number of its first bet; done: the agency's total
//	[16:20]  batch: number of bets; done: zero
//	[20:28]  size of bets.csv once this record's rows are in it
//	[28:32]  CRC-32C of bytes 0..27
//
// A record is written only after the rows it covers are synced, so every
// whole record with a good checksum describes rows that are on disk. A torn
// or corrupt record ends the journal.
const recordSize = 32

const (
	recordBatch byte = 1
	recordDone  byte = 2
)

type record struct {
	kind   byte
	agency uint32
	first  uint64 // batch: first bet number; done: total
	count  uint32
	csvEnd int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendRecord(dst []byte, r record) []byte {
	start := len(dst)
	dst = append(dst, r.kind, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, r.agency)
	dst = binary.BigEndian.AppendUint64(dst, r.first)
	dst = binary.BigEndian.AppendUint32(dst, r.count)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.csvEnd))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// parseRecord decodes a record; ok is false for a record that is corrupt.
func parseRecord(b []byte) (r record, ok bool) {
	if len(b) != recordSize || crc32.Checksum(b[:28], castagnoli) != binary.BigEndian.Uint32(b[28:]) {
		return record{}, false
	}
	if b[1] != 0 || b[2] != 0 || b[3] != 0 || (b[0] != recordBatch && b[0] != recordDone) {
		return record{}, false
	}
	return record{
		kind:   b[0],
		agency: binary.BigEndian.Uint32(b[4:]),
		first:  binary.BigEndian.Uint64(b[8:]),
		count:  binary.BigEndian.Uint32(b[16:]),
		csvEnd: int64(binary.BigEndian.Uint64(b[20:])),
	}, true
}
