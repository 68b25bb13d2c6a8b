package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func exec(t *testing.T, url, stmt string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
}

// TestAppendReopen: what is committed is what a store opened again holds,
// with the digest the domain computes over the same bets.
func TestAppendReopen(t *testing.T) {
	url := pgtest.Database(t)
	s := open(t, url)
	bets := []lottery.Bet{
		{FirstName: "Ana", LastName: "Pérez, hija", Document: "30904465", Birthdate: "1999-03-17", Number: 7574},
		{FirstName: "Juan", LastName: `O"Neil`, Document: "12", Birthdate: "2000-01-01", Number: 1},
	}
	want := lottery.NewHasher()
	for _, b := range bets {
		want.Add(2, b)
	}
	if d, err := s.Append(2, 0, bets).Wait(context.Background()); err != nil || d != want.Sum() {
		t.Fatalf("append: digest %s, %v; want %s", d, err, want.Sum())
	}
	if _, err := s.Notify(2, 2).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := open(t, url)
	if got := again.Holdings()[2]; got != (lottery.Holding{Bets: 2, Done: true, Digest: want.Sum()}) {
		t.Errorf("holdings after reopen: %+v", got)
	}
	var n int
	for b, err := range again.LoadBets() {
		if err != nil {
			t.Fatal(err)
		}
		bets[n].Agency = 2
		if b != bets[n] {
			t.Errorf("bet %d: %+v, want %+v", n, b, bets[n])
		}
		n++
	}
	if n != len(bets) {
		t.Errorf("loaded %d bets, want %d", n, len(bets))
	}
}

// TestNewerSchemaRefused: a central does not write a schema newer than it
// knows.
func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.Database(t)
	open(t, url)
	exec(t, url, `UPDATE quiniela_schema SET version = 99`)
	_, err := Open(url, Options{})
	if err == nil || !strings.Contains(err.Error(), "version 99, newer") {
		t.Fatalf("open over schema 99: %v", err)
	}
}

// TestUnreachable: a database that cannot be reached is ErrUnavailable,
// named without its password.
func TestUnreachable(t *testing.T) {
	_, err := Open("postgres://lottery:secret@127.0.0.1:1/quiniela?connect_timeout=2", Options{})
	if !errors.Is(err, lottery.ErrUnavailable) {
		t.Fatalf("open: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
