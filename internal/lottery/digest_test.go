package lottery

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

func rowBet(first, last, doc string, number int) Bet {
	return Bet{FirstName: first, LastName: last, Document: doc, Birthdate: "1990-05-17", Number: number}
}

// TestAppendRowGolden pins the bytes of the canonical row: every agency's
// digest and every bets.csv depend on them. The wants are what Python's
// csv.writer(f, lineterminator="\n") writes for the same fields, except
// where a field starts with a space or a tab (not a valid bet): we quote
// it, as encoding/csv does, and Python would not; both read it back as the
// same field.
func TestAppendRowGolden(t *testing.T) {
	tests := []struct {
		name   string
		agency int
		bet    Bet
		want   string
	}{
		{"plain", 1, rowBet("Santiago", "Lorca", "30904465", 7574), "1,Santiago,Lorca,30904465,1990-05-17,7574\n"},
		{"non-ASCII", 6, rowBet("José", "Müller-Łukasz", "30904465", 7574), "6,José,Müller-Łukasz,30904465,1990-05-17,7574\n"},
		{"comma", 1, rowBet("Juan, Jr", "Pérez", "1", 0), "1,\"Juan, Jr\",Pérez,1,1990-05-17,0\n"},
		{"quotes", 3, rowBet(`Ana "La Negra"`, `O"Brien`, "9", 9999), `3,"Ana ""La Negra""","O""Brien",9,1990-05-17,9999` + "\n"},
		{"only a quote, only a comma", 5, rowBet(`"`, `,`, "7", 1), `5,"""",",",7,1990-05-17,1` + "\n"},
		{"inner spaces", 12, rowBet("María José", "de la Cruz", "10000000", 42), "12,María José,de la Cruz,10000000,1990-05-17,42\n"},
		{"trailing space, not quoted", 4, rowBet("Fin ", "Gómez", "42", 12), "4,Fin ,Gómez,42,1990-05-17,12\n"},
		{"leading space, quoted", 4, rowBet(" Espacio", "Gómez", "42", 12), `4," Espacio",Gómez,42,1990-05-17,12` + "\n"},
		{"leading tab, quoted", 4, rowBet("\tTab", "Gómez", "42", 12), "4,\"\tTab\",Gómez,42,1990-05-17,12\n"},
		{"line break", 4, rowBet("a\nb", "c\rd", "42", 12), "4,\"a\nb\",\"c\rd\",42,1990-05-17,12\n"},
		{"empty fields", 2, Bet{}, "2,,,,,0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bet := tt.bet
			bet.Agency = 99 // the row's agency is AppendRow's argument
			if got := string(AppendRow([]byte("prefix"), tt.agency, bet)); got != "prefix"+tt.want {
				t.Errorf("AppendRow = %q, want %q", got, "prefix"+tt.want)
			}
			wantFields := tt.want[len(fmt.Sprint(tt.agency))+1:]
			if got := string(AppendFields(nil, bet)); got != wantFields {
				t.Errorf("AppendFields = %q, want %q", got, wantFields)
			}
		})
	}

	bet := tests[0].bet
	buf := make([]byte, 0, 256)
	if allocs := testing.AllocsPerRun(100, func() { buf = AppendRow(buf[:0], 1, bet) }); allocs != 0 {
		t.Errorf("AppendRow allocates %v times per call", allocs)
	}
}

func hasherBets(n int) []Bet {
	bets := make([]Bet, n)
	for i := range bets {
		bets[i] = rowBet(fmt.Sprintf("Nombre %d", i), fmt.Sprintf("Ape, llido \"%d\"", i), fmt.Sprint(10000000+i), i%10000)
	}
	return bets
}

// TestHasherDigest checks a Hasher against the definition: the SHA-256 of
// the bets' rows, concatenated in order, whether the bets are added one by
// one or their rows written in batches.
func TestHasherDigest(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100} {
		t.Run(fmt.Sprint(n, " bets"), func(t *testing.T) {
			const agency = 3
			var rows []byte
			for _, b := range hasherBets(n) {
				rows = AppendRow(rows, agency, b)
			}
			want := Digest(sha256.Sum256(rows))

			added := NewHasher()
			for _, b := range hasherBets(n) {
				added.Add(agency, b)
			}
			if got := added.Sum(); got != want {
				t.Errorf("Add: digest %s, want %s", got, want)
			}

			written := NewHasher()
			half := len(rows) / 2
			if n > 0 {
				half = len(AppendRow(nil, agency, hasherBets(n)[0])) // a batch boundary
			}
			written.Write(rows[:half])
			written.Write(rows[half:])
			if got := written.Sum(); got != want {
				t.Errorf("Write: digest %s, want %s", got, want)
			}
		})
	}
	if got := NewHasher().Sum(); got != EmptyDigest {
		t.Errorf("no bets: digest %s, want EmptyDigest %s", got, EmptyDigest)
	}
}

// TestHasherClone saves a Hasher mid-way and carries on from the copy: the
// copy ends with the same digest as the original, and bets added to one do
// not reach the other.
func TestHasherClone(t *testing.T) {
	bets := hasherBets(10)
	whole := NewHasher()
	for _, b := range bets {
		whole.Add(1, b)
	}

	h := NewHasher()
	for _, b := range bets[:4] {
		h.Add(1, b)
	}
	before := h.Sum()
	saved := h.Clone()
	for _, b := range bets[4:] {
		saved.Add(1, b)
	}
	if got, want := saved.Sum(), whole.Sum(); got != want {
		t.Errorf("carried on from a copy: digest %s, want %s", got, want)
	}
	if got := h.Sum(); got != before {
		t.Errorf("the original changed with its copy: digest %s, want %s", got, before)
	}
	h.Add(1, bets[0]) // a different fifth bet
	if saved.Sum() != whole.Sum() {
		t.Error("the copy changed with its original")
	}
}

// TestHasherPinned pins one agency's digest to its hexadecimal value (the
// sha256sum of the two rows), so that a change to the rows or the hash
// shows here before any e2e test.
func TestHasherPinned(t *testing.T) {
	h := NewHasher()
	h.Add(1, Bet{FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465", Birthdate: "1999-03-17", Number: 7574})
	h.Add(1, Bet{FirstName: "Juan, Jr", LastName: `O"Brien`, Document: "1", Birthdate: "2000-02-29", Number: 0})
	const want = "6872b752d0c59d9acb6b174fd5ae153e5dd7bc5f3bd1ca03fe184a14ebf95f4a"
	if got := h.Sum().String(); got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}
