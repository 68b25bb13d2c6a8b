package storage

import (
	"crypto/sha256"
	"fmt"
	"maps"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// journalState is what a journal says: how many bets each agency has and
// the running digest of its rows, which agencies have notified, the draw,
// where bets.csv ends and the hash of the last record. It is the journal's
// own consistency rule, applied the same way when the journal is replayed
// and before a record is written, so the writer never writes a journal
// that recovery would refuse. It is not the lottery's record of the
// agencies: that is lottery.Central's, which decides what is written.
type journalState struct {
	bets    map[int]uint64          // agency → bets stored
	done    map[int]bool            // agency → its notification is stored
	digests map[int]*lottery.Hasher // agency → its digest so far
	drawn   *lottery.Result         // the draw, once recorded
	size    int64                   // bytes of bets.csv the records cover
	head    [32]byte                // SHA-256 of the last record
	records int64                   // records, the header included
}

func newJournalState() journalState {
	return journalState{bets: make(map[int]uint64), done: make(map[int]bool), digests: make(map[int]*lottery.Hasher)}
}

// check reports why rec cannot follow the records before it, or nil.
func (st *journalState) check(rec record) error {
	a := int(rec.agency)
	switch {
	case rec.kind == recordHeader && st.records > 0:
		return fmt.Errorf("a header after %d records", st.records)
	case rec.kind != recordHeader && st.records == 0:
		return fmt.Errorf("no header")
	case rec.kind == recordHeader && rec.hash != headerMark:
		return fmt.Errorf("a header of another format")
	case rec.prev != st.head:
		return fmt.Errorf("the chain does not link: the record does not follow the one before it")
	case st.drawn != nil:
		return fmt.Errorf("a record after the draw")
	case rec.csvEnd < st.size:
		return fmt.Errorf("bets.csv end %d goes back from %d", rec.csvEnd, st.size)
	case rec.kind != recordBatch && rec.csvEnd != st.size:
		return fmt.Errorf("a record without rows moves the end of bets.csv from %d to %d", st.size, rec.csvEnd)
	case rec.kind == recordBatch && st.done[a]:
		return fmt.Errorf("batch of agency %d after its done notification", a)
	case rec.kind == recordBatch && rec.first != st.bets[a]:
		return fmt.Errorf("batch of agency %d starts at bet %d, stored %d", a, rec.first, st.bets[a])
	case rec.kind == recordDone && rec.first != st.bets[a]:
		return fmt.Errorf("done of agency %d with total %d, stored %d", a, rec.first, st.bets[a])
	case rec.kind == recordDone && lottery.Digest(rec.hash) != st.digest(a):
		return fmt.Errorf("done of agency %d with digest %s, its rows give %s", a, lottery.Digest(rec.hash), st.digest(a))
	}
	return nil
}

// apply checks rec, whose rows (a batch's) are rows, and adds it to the
// state; raw is the record as it is on disk, whose hash the next record
// must name. The caller has checked that the rows hash to rec.hash: the
// writer hashed them itself, replay compares (see replayer).
func (st *journalState) apply(rec record, rows []byte, raw []byte) error {
	if err := st.check(rec); err != nil {
		return err
	}
	a := int(rec.agency)
	switch rec.kind {
	case recordBatch:
		st.bets[a] += uint64(rec.count)
		st.running(a).Write(rows)
	case recordDone:
		st.done[a] = true
	case recordDraw:
		st.drawn = &lottery.Result{
			Agencies: a, Bets: rec.first, Winners: int(rec.count),
			Digest: lottery.Digest(rec.hash), WinnersDigest: lottery.Digest(rec.aux),
		}
	}
	st.size = rec.csvEnd
	st.head = sha256.Sum256(raw)
	st.records++
	return nil
}

// running returns agency's running digest, creating it. The rows it is
// written are lottery.AppendRow's, as bets.csv holds them.
func (st *journalState) running(agency int) *lottery.Hasher {
	h, ok := st.digests[agency]
	if !ok {
		h = lottery.NewHasher()
		st.digests[agency] = h
	}
	return h
}

// digest returns agency's digest over the rows the state holds.
func (st *journalState) digest(agency int) lottery.Digest {
	h, ok := st.digests[agency]
	if !ok {
		return lottery.EmptyDigest
	}
	return h.Sum()
}

// seed copies agency's state from st into next, unless next has it: next
// is an overlay of the agencies a group touches. The running digest is
// cloned, so that a plan that is not written leaves st's as it was.
func (st *journalState) seed(next *journalState, agency int) {
	if _, ok := next.bets[agency]; ok {
		return
	}
	next.bets[agency] = st.bets[agency]
	if st.done[agency] {
		next.done[agency] = true
	}
	if h, ok := st.digests[agency]; ok {
		next.digests[agency] = h.Clone()
	}
}

// overlay returns an empty overlay of st: the agencies a group touches
// are seeded into it, and everything else of the journal carries on.
func (st *journalState) overlay() journalState {
	next := newJournalState()
	next.size, next.head, next.records, next.drawn = st.size, st.head, st.records, st.drawn
	return next
}

// merge sets st to the overlay next on top of it.
func (st *journalState) merge(next journalState) {
	maps.Copy(st.bets, next.bets)
	maps.Copy(st.done, next.done)
	maps.Copy(st.digests, next.digests)
	st.drawn, st.size, st.head, st.records = next.drawn, next.size, next.head, next.records
}

// holdings returns the state as the lottery sees it.
func (st *journalState) holdings() map[int]lottery.Holding {
	out := make(map[int]lottery.Holding, len(st.bets))
	for a, n := range st.bets {
		out[a] = lottery.Holding{Bets: n, Done: st.done[a], Digest: st.digest(a)}
	}
	for a := range st.done {
		if _, ok := out[a]; !ok {
			out[a] = lottery.Holding{Done: true, Digest: st.digest(a)}
		}
	}
	return out
}
