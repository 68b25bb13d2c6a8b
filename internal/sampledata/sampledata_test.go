package sampledata

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

func collect(spec Spec) []lottery.Bet {
	return slices.Collect(Bets(spec))
}

func TestBetsDeterministic(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
	}{
		{"small", Spec{Agency: 1, Bets: 10, Winners: 2, Seed: 1}},
		{"medium", Spec{Agency: 3, Bets: 5000, Winners: 3, Seed: 42}},
		{"negative seed", Spec{Agency: 5, Bets: 100, Winners: 0, Seed: -7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := collect(tt.spec), collect(tt.spec)
			if !slices.Equal(first, second) {
				t.Fatal("same spec gave different bets")
			}
			seq := Bets(tt.spec) // ranging over one Seq twice restarts it
			if !slices.Equal(slices.Collect(seq), slices.Collect(seq)) {
				t.Fatal("ranging twice over one Seq gave different bets")
			}

			otherSeed := tt.spec
			otherSeed.Seed++
			if slices.Equal(first, collect(otherSeed)) {
				t.Error("different seed gave the same bets")
			}
			otherAgency := tt.spec
			otherAgency.Agency++
			if got := collect(otherAgency); slices.EqualFunc(first, got, sameButAgency) {
				t.Error("different agency gave the same bets")
			}
		})
	}
}

func sameButAgency(a, b lottery.Bet) bool {
	a.Agency = b.Agency
	return a == b
}

func TestBetsCounts(t *testing.T) {
	tests := []struct {
		name              string
		spec              Spec
		wantBets, wantWin int
	}{
		{"no bets", Spec{Agency: 1, Bets: 0, Winners: 0, Seed: 1}, 0, 0},
		{"no winners", Spec{Agency: 1, Bets: 500, Winners: 0, Seed: 1}, 500, 0},
		{"some winners", Spec{Agency: 2, Bets: 1000, Winners: 3, Seed: 1}, 1000, 3},
		{"one bet one winner", Spec{Agency: 3, Bets: 1, Winners: 1, Seed: 9}, 1, 1},
		{"all winners", Spec{Agency: 4, Bets: 50, Winners: 50, Seed: 2}, 50, 50},
		{"winners clamped to bets", Spec{Agency: 5, Bets: 7, Winners: 20, Seed: 3}, 7, 7},
		{"winners clamped with no bets", Spec{Agency: 5, Bets: 0, Winners: 4, Seed: 3}, 0, 0},
		{"negative bets", Spec{Agency: 1, Bets: -5, Winners: 2, Seed: 1}, 0, 0},
		{"negative winners", Spec{Agency: 1, Bets: 10, Winners: -1, Seed: 1}, 10, 0},
		{"large", Spec{Agency: 1, Bets: 26936, Winners: 2, Seed: 1}, 26936, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Clamped(); got.Bets != tt.wantBets || got.Winners != tt.wantWin {
				t.Errorf("Clamped() = %+v, want Bets %d Winners %d", got, tt.wantBets, tt.wantWin)
			}
			bets, winners := 0, 0
			for b := range Bets(tt.spec) {
				bets++
				checkBet(t, tt.spec.Agency, b)
				if lottery.HasWon(b) {
					winners++
				}
			}
			if bets != tt.wantBets || winners != tt.wantWin {
				t.Errorf("got %d bets, %d winners; want %d, %d", bets, winners, tt.wantBets, tt.wantWin)
			}
		})
	}
}

func checkBet(t *testing.T, agency int, b lottery.Bet) {
	t.Helper()
	if err := lottery.Validate(b); err != nil {
		t.Fatalf("bet %+v: %v", b, err)
	}
	if b.Agency != agency {
		t.Fatalf("bet %+v: agency %d, want %d", b, b.Agency, agency)
	}
	if b.Number < 0 || b.Number > lottery.MaxNumber {
		t.Fatalf("bet %+v: number out of range", b)
	}
	doc, err := strconv.Atoi(b.Document)
	if err != nil || len(b.Document) != 8 || doc < minDocument || doc > maxDocument {
		t.Fatalf("bet %+v: document is not 8 digits in %d..%d", b, minDocument, maxDocument)
	}
	birth, err := time.Parse(lottery.DateLayout, b.Birthdate)
	if err != nil || birth.Year() < 1940 || birth.Year() > 2005 {
		t.Fatalf("bet %+v: birthdate is not a date in 1940..2005", b)
	}
	if strings.ContainsAny(b.FirstName+b.LastName, ",\n\"") {
		t.Fatalf("bet %+v: name needs quoting", b)
	}
}

func TestBetsWinnerPositions(t *testing.T) {
	// Winners land at pseudo-random positions that change with the seed,
	// not at the start or the end of the file.
	seen := map[string]bool{}
	for seed := range int64(5) {
		var positions []string
		i := 0
		for b := range Bets(Spec{Agency: 1, Bets: 1000, Winners: 3, Seed: seed}) {
			if lottery.HasWon(b) {
				positions = append(positions, strconv.Itoa(i))
			}
			i++
		}
		key := strings.Join(positions, ",")
		if key == "0,1,2" || key == "997,998,999" {
			t.Errorf("seed %d: winners at %s", seed, key)
		}
		seen[key] = true
	}
	if len(seen) < 2 {
		t.Errorf("5 seeds put the winners at %d distinct sets of positions", len(seen))
	}
}

func TestBetsCoverage(t *testing.T) {
	// The generator uses its whole name lists, accents included, and a
	// spread of numbers and birth years.
	firsts, lasts, years := map[string]bool{}, map[string]bool{}, map[int]bool{}
	minNum, maxNum := lottery.MaxNumber, 0
	for b := range Bets(Spec{Agency: 1, Bets: 20000, Seed: 1}) {
		firsts[b.FirstName] = true
		lasts[b.LastName] = true
		y, _ := strconv.Atoi(b.Birthdate[:4])
		years[y] = true
		minNum, maxNum = min(minNum, b.Number), max(maxNum, b.Number)
	}
	if len(firsts) != len(firstNames) || len(lasts) != len(lastNames) {
		t.Errorf("used %d/%d first names, %d/%d last names", len(firsts), len(firstNames), len(lasts), len(lastNames))
	}
	for _, name := range []string{"José", "Martín"} {
		if !firsts[name] {
			t.Errorf("first name %q never used", name)
		}
	}
	for _, name := range []string{"Álvarez", "Muñoz"} {
		if !lasts[name] {
			t.Errorf("last name %q never used", name)
		}
	}
	if !years[1940] || !years[2005] || len(years) != 66 {
		t.Errorf("birth years: %d distinct, 1940 %v, 2005 %v", len(years), years[1940], years[2005])
	}
	if minNum > 10 || maxNum < lottery.MaxNumber-10 {
		t.Errorf("numbers span %d..%d", minNum, maxNum)
	}
}

func TestBetsRepeatBettors(t *testing.T) {
	// About one bet in a thousand is made again by an earlier bettor.
	type bettorKey struct{ first, last, doc, birth string }
	seen := map[bettorKey]bool{}
	repeats := 0
	const n = 100_000
	for b := range Bets(Spec{Agency: 1, Bets: n, Winners: 2, Seed: 1}) {
		k := bettorKey{b.FirstName, b.LastName, b.Document, b.Birthdate}
		if seen[k] {
			repeats++
		}
		seen[k] = true
	}
	if repeats < n/repeatOdds/2 || repeats > n/repeatOdds*2 {
		t.Errorf("%d repeat bettors in %d bets, want about %d", repeats, n, n/repeatOdds)
	}
}

func TestBetsStopsEarly(t *testing.T) {
	n := 0
	for range Bets(Spec{Agency: 1, Bets: 100, Winners: 5, Seed: 1}) {
		n++
		if n == 10 {
			break
		}
	}
	if n != 10 {
		t.Errorf("got %d bets before break, want 10", n)
	}
}

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want int // winners
	}{
		{"empty", Spec{Agency: 1, Bets: 0, Winners: 2, Seed: 1}, 0},
		{"no winners", Spec{Agency: 5, Bets: 991, Winners: 0, Seed: 1}, 0},
		{"some winners", Spec{Agency: 1, Bets: 1000, Winners: 2, Seed: 1}, 2},
		{"clamped", Spec{Agency: 2, Bets: 3, Winners: 10, Seed: 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "nested", "dir")
			path := filepath.Join(dir, "agency.csv")
			if err := WriteFile(path, tt.spec); err != nil {
				t.Fatal(err)
			}
			data := readFile(t, path)

			lines := strings.Split(string(data), "\n")
			if last := lines[len(lines)-1]; last != "" {
				t.Fatalf("file does not end in a newline: %q", last)
			}
			lines = lines[:len(lines)-1]
			want := collect(tt.spec)
			if len(lines) != len(want) || len(lines) != tt.spec.Clamped().Bets {
				t.Fatalf("file has %d lines, want %d", len(lines), len(want))
			}
			winners := 0
			for i, line := range lines {
				b := parseLine(t, tt.spec.Agency, line)
				if b != want[i] {
					t.Fatalf("line %d is %+v, want %+v", i+1, b, want[i])
				}
				checkBet(t, tt.spec.Agency, b)
				if lottery.HasWon(b) {
					winners++
				}
			}
			if winners != tt.want {
				t.Errorf("file has %d winners, want %d", winners, tt.want)
			}

			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != 0o644 {
				t.Errorf("file mode %v, want 0644", perm)
			}
			checkEntries(t, dir, 1)
		})
	}
}

func TestWriteFileDeterministic(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Agency: 3, Bets: 2000, Winners: 3, Seed: 1}
	a, b, c := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv"), filepath.Join(dir, "c.csv")
	other := spec
	other.Seed = 2
	for path, s := range map[string]Spec{a: spec, b: spec, c: other} {
		if err := WriteFile(path, s); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readFile(t, a), readFile(t, b)) {
		t.Error("same spec wrote different bytes")
	}
	if bytes.Equal(readFile(t, a), readFile(t, c)) {
		t.Error("different seed wrote the same bytes")
	}

	// Writing over an existing file replaces it whole.
	if err := WriteFile(a, Spec{Agency: 3, Bets: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(readFile(t, a), []byte("\n")); n != 5 {
		t.Errorf("rewritten file has %d lines, want 5", n)
	}
}

func TestWriteFileError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The parent "directory" is a regular file.
	if err := WriteFile(filepath.Join(blocker, "agency-1.csv"), Spec{Agency: 1, Bets: 10}); err == nil {
		t.Fatal("WriteFile under a regular file succeeded")
	}
	// The target is a directory: the rename fails and the temporary goes.
	target := filepath.Join(dir, "target")
	if err := os.Mkdir(filepath.Join(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, Spec{Agency: 1, Bets: 10}); err == nil {
		t.Fatal("WriteFile onto a non-empty directory succeeded")
	}
	checkEntries(t, dir, 2)
}

func TestPerAgency(t *testing.T) {
	tests := []struct {
		list     string
		agencies int
		want     []int
		wantErr  bool
	}{
		{"1000", 5, []int{1000, 1000, 1000, 1000, 1000}, false},
		{"2,3,3,2,0", 5, []int{2, 3, 3, 2, 0}, false},
		{"26936, 25518 ,16014,9238,991", 5, []int{26936, 25518, 16014, 9238, 991}, false},
		{"7", 1, []int{7}, false},
		{"0", 3, []int{0, 0, 0}, false},
		{"2,1,0", 3, []int{2, 1, 0}, false},
		{"2,1", 3, nil, true},
		{"2,1,0,4", 3, nil, true},
		{"", 2, nil, true},
		{"1,,2", 3, nil, true},
		{"x", 2, nil, true},
		{"-1", 2, nil, true},
		{"1.5", 1, nil, true},
		{"99999999999999999999", 1, nil, true},
		{"1", 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.list+"/"+strconv.Itoa(tt.agencies), func(t *testing.T) {
			got, err := PerAgency(tt.list, tt.agencies)
			if (err != nil) != tt.wantErr {
				t.Fatalf("PerAgency(%q, %d) error = %v, want error %v", tt.list, tt.agencies, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PerAgency(%q, %d) = %v, want %v", tt.list, tt.agencies, got, tt.want)
			}
		})
	}
}

// checkEntries fails the test unless dir holds want entries: a write
// leaves no temporary file behind, whether it succeeds or fails.
func checkEntries(t *testing.T, dir string, want int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != want {
		t.Errorf("directory holds %d entries, want %d: a temporary file was left", len(entries), want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseLine(t *testing.T, agency int, line string) lottery.Bet {
	t.Helper()
	f := strings.Split(line, ",")
	if len(f) != 5 {
		t.Fatalf("line %q has %d fields, want 5", line, len(f))
	}
	n, err := lottery.ParseNumber(f[4])
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return lottery.Bet{Agency: agency, FirstName: f[0], LastName: f[1], Document: f[2], Birthdate: f[3], Number: n}
}

func BenchmarkWriteFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "agency.csv")
	spec := Spec{Agency: 1, Bets: 10_000, Winners: 2, Seed: 1}
	for b.Loop() {
		if err := WriteFile(path, spec); err != nil {
			b.Fatal(err)
		}
	}
}
