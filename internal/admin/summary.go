package admin

// MaxListedAgencies is the most agencies /status and the page list one
// row each: beyond it they give a summary (AgenciesSummary), so that what
// one request costs, and what it answers, stays bounded at any
// AGENCIES_AMOUNT (65,535 rows were 8.2 MB of JSON and half a second of
// the central's CPU per request).
const MaxListedAgencies = 1000

// MaxNotDoneListed is the most agencies not yet done that a summary
// names.
const MaxNotDoneListed = 100

// MaxStatusBytes bounds the size of /status's answer: MaxListedAgencies
// rows with every field (about 230 bytes each, indented), or a summary,
// and the rest of the status. TestStatusBounded checks it.
const MaxStatusBytes = 320 << 10

// AgenciesSummary stands for the agencies' rows where there are more than
// MaxListedAgencies.
type AgenciesSummary struct {
	Count     int `json:"count"`      // agencies expected
	Done      int `json:"done"`       // agencies that notified
	Connected int `json:"connected"`  // agencies a connection speaks for now
	NeverSeen int `json:"never_seen"` // agencies that never said Hello
	// States counts the agencies in each of AgencyStates, every state
	// present.
	States map[string]int `json:"states"`
	// NotDone names the first MaxNotDoneListed agencies, in order, that
	// have not notified: those the draw waits for.
	NotDone []int `json:"not_done"`
}

// summarise replaces st's agencies' rows by their summary where there
// are more than MaxListedAgencies.
func summarise(st *Status) {
	if len(st.Agencies) <= MaxListedAgencies {
		return
	}
	sum := &AgenciesSummary{Count: len(st.Agencies), NotDone: []int{}, States: make(map[string]int, len(AgencyStates))}
	for _, s := range AgencyStates {
		sum.States[s] = 0
	}
	for _, a := range st.Agencies {
		sum.States[a.State]++
		switch {
		case a.Done:
			sum.Done++
		case len(sum.NotDone) < MaxNotDoneListed:
			sum.NotDone = append(sum.NotDone, a.Agency)
		}
		if a.Connected {
			sum.Connected++
		}
		if a.LastSeen == nil {
			sum.NeverSeen++
		}
	}
	st.Agencies, st.Summary = nil, sum
}
