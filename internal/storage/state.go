package storage

import (
	"fmt"
	"maps"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// journalState is what a journal says: how many bets each agency has, which
// agencies have notified, and where bets.csv ends. It is the journal's own
// consistency rule, applied the same way when the journal is replayed and
// before a record is written, so the writer never writes a journal that
// recovery would refuse. It is not the lottery's record of the agencies:
// that is lottery.Central's, which decides what is written.
type journalState struct {
	bets map[int]uint64 // agency → bets stored
	done map[int]bool   // agency → its notification is stored
	size int64          // bytes of bets.csv the records cover
}

func newJournalState() journalState {
	return journalState{bets: make(map[int]uint64), done: make(map[int]bool)}
}

// check reports why rec cannot follow the records before it, or nil.
func (st *journalState) check(rec record) error {
	a := int(rec.agency)
	switch {
	case rec.csvEnd < st.size:
		return fmt.Errorf("bets.csv end %d goes back from %d", rec.csvEnd, st.size)
	case rec.kind == recordBatch && st.done[a]:
		return fmt.Errorf("batch of agency %d after its done notification", a)
	case rec.kind == recordBatch && rec.first != st.bets[a]:
		return fmt.Errorf("batch of agency %d starts at bet %d, stored %d", a, rec.first, st.bets[a])
	case rec.kind == recordDone && rec.first != st.bets[a]:
		return fmt.Errorf("done of agency %d with total %d, stored %d", a, rec.first, st.bets[a])
	}
	return nil
}

// apply checks rec and adds it to the state.
func (st *journalState) apply(rec record) error {
	if err := st.check(rec); err != nil {
		return err
	}
	a := int(rec.agency)
	switch rec.kind {
	case recordBatch:
		st.bets[a] += uint64(rec.count)
	case recordDone:
		st.done[a] = true
	}
	st.size = rec.csvEnd
	return nil
}

// seed copies agency's state from st into next, unless next has it: next
// is an overlay of the agencies a group touches.
func (st *journalState) seed(next *journalState, agency int) {
	if _, ok := next.bets[agency]; ok {
		return
	}
	next.bets[agency] = st.bets[agency]
	if st.done[agency] {
		next.done[agency] = true
	}
}

// merge sets st to the overlay next on top of it.
func (st *journalState) merge(next journalState) {
	maps.Copy(st.bets, next.bets)
	maps.Copy(st.done, next.done)
	st.size = next.size
}

// holdings returns the state as the lottery sees it.
func (st *journalState) holdings() map[int]lottery.Holding {
	out := make(map[int]lottery.Holding, len(st.bets))
	for a, n := range st.bets {
		out[a] = lottery.Holding{Bets: n}
	}
	for a := range st.done {
		h := out[a]
		h.Done = true
		out[a] = h
	}
	return out
}
