// Package sampledata generates realistic, deterministic bet files for the
// agencies: the files that each agency uploads to the central server.
//
// A Spec names the agency, how many bets to make, how many of them win and
// the seed. Bets yields the bets one at a time in constant memory; WriteFile
// writes them as lines of first_name,last_name,document,birthdate,number
// (package betcsv's agency format), atomically. The same Spec always gives the same bets and the same bytes.
//
// The data looks like real data: Spanish names, some with accents (José,
// Martín, Álvarez, Muñoz); 8-digit documents; real birthdates between 1940
// and 2005; and about one bet in a thousand made again by a bettor who
// already bet earlier in the same file (same name, document and birthdate).
package sampledata

import (
	"bufio"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// Spec describes the bets of one agency's file.
type Spec struct {
	Agency  int   // the agency that takes the bets; copied into every Bet
	Bets    int   // how many bets; a negative count counts as 0
	Winners int   // how many bets play lottery.LotteryWinnerNumber; clamped to 0..Bets
	Seed    int64 // with Agency, selects the pseudo-random sequence
}

// Clamped returns s with its counts brought into range: a negative Bets
// becomes 0, and Winners is clamped to 0..Bets. Bets and WriteFile use the
// clamped spec, so its Winners is the exact number of winners they produce.
func (s Spec) Clamped() Spec {
	s.Bets = max(s.Bets, 0)
	s.Winners = min(max(s.Winners, 0), s.Bets)
	return s
}

// Document range: 8-digit documents, as Argentine DNIs of living adults are.
const (
	minDocument = 10_000_000
	maxDocument = 49_999_999
)

// Birthdate range, both ends included.
var (
	firstBirthdate = time.Date(1940, time.January, 1, 0, 0, 0, 0, time.UTC)
	lastBirthdate  = time.Date(2005, time.December, 31, 0, 0, 0, 0, time.UTC)
	birthdateDays  = int(lastBirthdate.Sub(firstBirthdate).Hours()/24) + 1
)

// repeatOdds is the odds, one in repeatOdds, that a bet is made by a bettor
// who already bet earlier in the file.
const repeatOdds = 1000

// repeatPool is how many earlier bettors are remembered for repeat bets: a
// uniform sample of all earlier bettors, so memory stays constant.
const repeatPool = 64

var firstNames = [...]string{
	"José", "María", "Juan", "Ana", "Martín", "Lucía", "Sofía", "Mateo",
	"Valentina", "Santiago", "Camila", "Tomás", "Florencia", "Nicolás",
	"Agustina", "Joaquín", "Micaela", "Matías", "Julieta", "Sebastián",
	"Carolina", "Andrés", "Paula", "Ramón", "Inés", "Germán", "Belén",
	"Facundo", "Rocío", "Lautaro", "Ángela", "Hernán", "Mónica", "Raúl",
	"Verónica", "Héctor", "Beatriz", "Óscar", "Silvia", "Iván", "Noelia",
	"Rubén", "Juan Pablo", "María José",
}

var lastNames = [...]string{
	"Álvarez", "Muñoz", "González", "Rodríguez", "Fernández", "López",
	"Martínez", "García", "Pérez", "Gómez", "Sánchez", "Romero", "Díaz",
	"Sosa", "Torres", "Ruiz", "Ramírez", "Flores", "Acosta", "Benítez",
	"Medina", "Herrera", "Suárez", "Aguirre", "Giménez", "Gutiérrez",
	"Pereyra", "Rojas", "Molina", "Castro", "Ortiz", "Silva", "Núñez",
	"Luna", "Juárez", "Cabrera", "Ríos", "Morales", "Domínguez", "Peña",
	"Ibáñez", "Quiroga", "Ledesma", "Vázquez", "Cáceres",
}

// bettor is who makes a bet: everything in a bet but its agency and number.
type bettor struct {
	firstName, lastName, document, birthdate string
}

// Bets returns the bets of spec.Clamped(): exactly Bets bets for the agency,
// of which exactly Winners, at pseudo-random positions, play
// lottery.LotteryWinnerNumber and every other one plays a number in
// 0..lottery.MaxNumber other than it. Every bet passes lottery.Validate.
//
// The sequence depends only on the spec: ranging over the result again, or
// over Bets(spec) later, yields the same bets. It is generated as it is
// consumed, in constant memory.
func Bets(spec Spec) iter.Seq[lottery.Bet] {
	spec = spec.Clamped()
	return func(yield func(lottery.Bet) bool) {
		rng := rand.New(rand.NewPCG(uint64(spec.Seed), uint64(spec.Agency)))
		var pool [repeatPool]bettor
		winnersLeft := spec.Winners
		for i := range spec.Bets {
			var who bettor
			if i > 0 && rng.IntN(repeatOdds) == 0 {
				who = pool[rng.IntN(min(i, repeatPool))]
			} else {
				who = newBettor(rng)
			}
			// Reservoir sampling keeps pool a uniform sample of the
			// bettors of bets 0..i.
			if i < repeatPool {
				pool[i] = who
			} else if j := rng.IntN(i + 1); j < repeatPool {
				pool[j] = who
			}

			// Selection sampling: the bet wins with probability
			// winnersLeft/betsLeft, which gives exactly spec.Winners
			// winners, each set of positions equally likely.
			number := 0
			if rng.IntN(spec.Bets-i) < winnersLeft {
				winnersLeft--
				number = lottery.LotteryWinnerNumber
			} else {
				number = rng.IntN(lottery.MaxNumber) // 0..MaxNumber-1
				if number >= lottery.LotteryWinnerNumber {
					number++ // skip the winner: 0..MaxNumber without it
				}
			}

			bet := lottery.Bet{
				Agency:    spec.Agency,
				FirstName: who.firstName,
				LastName:  who.lastName,
				Document:  who.document,
				Birthdate: who.birthdate,
				Number:    number,
			}
			if !yield(bet) {
				return
			}
		}
	}
}

func newBettor(rng *rand.Rand) bettor {
	birth := firstBirthdate.AddDate(0, 0, rng.IntN(birthdateDays))
	return bettor{
		firstName: firstNames[rng.IntN(len(firstNames))],
		lastName:  lastNames[rng.IntN(len(lastNames))],
		document:  strconv.Itoa(minDocument + rng.IntN(maxDocument-minDocument+1)),
		birthdate: birth.Format(lottery.DateLayout),
	}
}

// WriteFile writes the bets of spec to path as WriteBets does.
func WriteFile(path string, spec Spec) error {
	return WriteBets(path, Bets(spec))
}

// WriteBets writes bets to path as an agency's file, one
// betcsv.AppendAgencyRow line each, with no header, creating the parent
// directories as needed. It writes a temporary file in the same
// directory, syncs it and renames it onto path, so path holds either its
// old content or all of the new one, never part. The file is created with
// mode 0644.
func WriteBets(path string, bets iter.Seq[lottery.Bet]) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the first error matters
			_ = os.Remove(tmp)
		}
	}()

	w := bufio.NewWriterSize(f, 64<<10)
	line := make([]byte, 0, 1024)
	for b := range bets {
		line = betcsv.AppendAgencyRow(line[:0], b)
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}

// PerAgency parses a comma-separated list of non-negative counts, one per
// agency 1..agencies, such as "2,3,3,2,0" for 5 agencies. A single value
// applies to every agency. Spaces around values are ignored. The result has
// agencies elements, the count of agency i at index i-1.
func PerAgency(list string, agencies int) ([]int, error) {
	if agencies < 1 {
		return nil, fmt.Errorf("%d agencies: need at least 1", agencies)
	}
	fields := strings.Split(list, ",")
	if len(fields) != 1 && len(fields) != agencies {
		return nil, fmt.Errorf("%d values for %d agencies: give one value or one per agency", len(fields), agencies)
	}
	counts := make([]int, agencies)
	for i, field := range fields {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			var numErr *strconv.NumError
			if errors.As(err, &numErr) {
				err = numErr.Err
			}
			return nil, fmt.Errorf("value %d %q: not an integer: %w", i+1, field, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("value %d %q: negative", i+1, field)
		}
		counts[i] = n
	}
	if len(fields) == 1 {
		for i := range counts {
			counts[i] = counts[0]
		}
	}
	return counts, nil
}
