package pgtest

import (
	"errors"
	"testing"
)

// TestStandby: a standby streams synchronously from its primary, and a
// promoted standby takes writes after the primary is lost.
func TestStandby(t *testing.T) {
	primary, err := Start()
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	standby, err := primary.StartStandby("standby1")
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Stop()
	if err := primary.SyncStandby("standby1"); err != nil {
		t.Fatal(err)
	}
	if err := primary.CreateDatabase("lottery"); err != nil {
		t.Fatal(err)
	}
	if err := primary.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := standby.query("SELECT count(*) FROM pg_database WHERE datname = 'lottery'", &n); err != nil || n != 1 {
		t.Fatalf("the promoted standby has %d databases lottery, %v; want the one the primary acknowledged", n, err)
	}
	if err := standby.CreateDatabase("after"); err != nil {
		t.Fatalf("the promoted standby takes no writes: %v", err)
	}
}
