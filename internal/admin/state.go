package admin

import "time"

// An agency's states, as /status names them (Agency.State).
const (
	AgencyWaiting   = "waiting"   // seen, not connected now, not done: the central waits for it to come back
	AgencyUploading = "uploading" // a connection speaks for it now, and it has not notified
	AgencyDone      = "done"      // it notified its total: its bets are all in
	AgencyRefused   = "refused"   // its latest connection was refused (LastRefusal.Latest), and it is not connected
	AgencyAbsent    = "absent"    // never seen, or sales closed before it notified
)

// AgencyStates are every state, in the order the page counts them.
var AgencyStates = []string{AgencyUploading, AgencyWaiting, AgencyRefused, AgencyAbsent, AgencyDone}

// stateOf tells a's state; closed is whether sales are closed.
func stateOf(a Agency, closed bool) string {
	switch {
	case a.Done:
		return AgencyDone
	case a.Connected && !closed:
		return AgencyUploading
	case closed:
		return AgencyAbsent
	case a.LastRefusal != nil && a.LastRefusal.Latest:
		return AgencyRefused
	case a.LastSeen == nil:
		return AgencyAbsent
	}
	return AgencyWaiting
}

// complete fills in what st's fields imply: each agency's state and
// percentage, and the countdown to the deadline while sales are open.
func complete(st *Status) {
	closed := st.Draw.State != StateOpen
	for i := range st.Agencies {
		a := &st.Agencies[i]
		a.State = stateOf(*a, closed)
		if a.Declared > 0 {
			p := min(100, 100*float64(a.BetsStored)/float64(a.Declared))
			a.Percent = &p
		}
	}
	if d := st.Draw.Deadline; d != nil && !closed {
		left := int64(max(0, d.Sub(st.Time).Round(time.Second)/time.Second))
		st.Draw.SecondsLeft = &left
	}
}
