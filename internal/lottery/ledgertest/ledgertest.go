// Package ledgertest is the conformance suite of lottery.Ledger: every
// promise the port makes to lottery.Central, as a named subtest that any
// backend runs against itself. The file store runs it (see
// storage.TestConformance); a second backend, such as one over
// PostgreSQL, runs the same suite to show that the central may trust it.
//
// The suite checks a backend from outside, through the port and the
// Backend hooks only. Where it checks a digest it computes the expected
// one itself, from the definition in lottery.Digest's doc comment (see
// agencyDigest), so that the backend's rendering is checked against the
// definition, not against itself.
package ledgertest

import (
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Backend opens ledgers of one implementation for the suite.
type Backend struct {
	// Open creates new, empty state that belongs to t (a directory
	// under t.TempDir, a fresh database schema) and opens a ledger over
	// it. Whatever it opens it closes through t.Cleanup.
	Open func(t *testing.T) *Instance
}

// Instance is one state of a backend, with a ledger open over it.
type Instance struct {
	// Ledger is the ledger that Open opened.
	Ledger lottery.Ledger
	// Reopen closes the ledger last opened over the state, once the
	// writes made to it are answered, and opens the same state again,
	// as a central started again does. The suite calls it with no
	// write in flight and uses only the ledger it returns from then on.
	Reopen func() lottery.Ledger
	// Another opens a second ledger over the same state, as a second
	// central sharing a database does. Nil for a backend that one central
	// owns: the cases of a lottery.SharedLedger are skipped.
	Another func() lottery.Ledger
	// Break makes the next write of the open ledger fail, as a disk
	// whose fsync fails once does; the fault itself then passes, so that
	// what the ledger does after a failure is its own doing. Nil when
	// the backend cannot be broken: the cases that need it are skipped.
	Break func()
}

// Run runs every case of the suite against b, each as a subtest of t
// named for the promise it checks, over its own new state.
func Run(t *testing.T, b Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newHarness(t, b))
		})
	}
}

// cases are the suite's cases, in the order they run. Each checks one
// promise of lottery.Ledger, named by its name.
var cases = []struct {
	name string
	run  func(*testing.T, *harness)
}{
	{"EmptyLedger", testEmptyLedger},
	{"AppendDigest", testAppendDigest},
	{"PositionsInOrder", testPositionsInOrder},
	{"DigestIndependentOfBatching", testDigestIndependentOfBatching},
	{"StaleAppendRefused", testStaleAppendRefused},
	{"GappedAppendRefused", testGappedAppendRefused},
	{"NotifyDigest", testNotifyDigest},
	{"NotifyWithoutBets", testNotifyWithoutBets},
	{"HoldingsAsOpened", testHoldingsAsOpened},
	{"HoldingsAfterReopen", testHoldingsAfterReopen},
	{"AppendAfterReopen", testAppendAfterReopen},
	{"RecordDrawDigest", testRecordDrawDigest},
	{"RecordedAfterReopen", testRecordedAfterReopen},
	{"WriteAfterDrawRefused", testWriteAfterDrawRefused},
	{"LoadBetsOrder", testLoadBetsOrder},
	{"LoadBetsAfterReopen", testLoadBetsAfterReopen},
	{"AppendCopiesBets", testAppendCopiesBets},
	{"ManyBatchesSameAgency", testManyBatchesSameAgency},
	{"ConcurrentAgencies", testConcurrentAgencies},
	{"ReceiptOrderPerAgency", testReceiptOrderPerAgency},
	{"WaitRepeatable", testWaitRepeatable},
	{"WaitGivenUp", testWaitGivenUp},
	{"UnicodeAndQuotedNames", testUnicodeAndQuotedNames},
	{"AgencyNumbers", testAgencyNumbers},
	{"FailedWriteIsErrUnavailable", testFailedWriteIsErrUnavailable},
	{"NothingAfterFailure", testNothingAfterFailure},
	{"OnlyAcknowledgedSurvivesReopen", testOnlyAcknowledgedSurvivesReopen},
	{"SharedWritesAfterFailure", testSharedWritesAfterFailure},
	{"SharedSeesOthers", testSharedSeesOthers},
	{"SharedPositionOnce", testSharedPositionOnce},
	{"SharedCloseSales", testSharedCloseSales},
	{"SharedAppendAfterNotify", testSharedAppendAfterNotify},
	{"SharedDrawOnce", testSharedDrawOnce},
	{"SharedHoldDraw", testSharedHoldDraw},
}
