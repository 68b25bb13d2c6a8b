// Package e2e holds the end-to-end tests of the lottery. These tests drive
// the real binaries: TestMain builds cmd/server, cmd/client and cmd/gendata
// once (CGO_ENABLED=0, as `make build` does) into a temporary directory, and
// every test starts them as separate processes on 127.0.0.1 with a free
// port chosen by the kernel (SERVER_PORT=0), each in its own working
// directory, and asserts on their exit status, their log lines and the
// bets.csv the central writes.
//
// No test sleeps to assert: each one polls the processes' logs under a
// deadline. Every process a test starts is killed when the test ends.
//
// TestCourseDataset needs the course dataset at ../shared/data/dataset.zip
// (relative to the repository's root) and skips, saying so, where it is
// absent. The other tests generate their data with cmd/gendata.
package e2e
