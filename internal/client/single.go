package client

import (
	"fmt"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/lottery"
)

// SingleBetFromEnv returns the bet of the single-bet mode when NOMBRE,
// APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO are all set, and nil when
// none is. Some but not all set, or a NUMERO that is not a number, is an
// error.
func SingleBetFromEnv(env config.LookupEnv) (*lottery.Bet, error) {
	keys := [...]string{"NOMBRE", "APELLIDO", "DOCUMENTO", "NACIMIENTO", "NUMERO"}
	var vals [len(keys)]string
	set := 0
	for i, k := range keys {
		if v, ok := env(k); ok {
			vals[i] = v
			set++
		}
	}
	switch set {
	case 0:
		return nil, nil
	case len(keys):
	default:
		return nil, fmt.Errorf("single-bet mode needs all of NOMBRE, APELLIDO, DOCUMENTO, NACIMIENTO and NUMERO")
	}
	// The same text rule as an agency file's rows (betcsv.Normalize):
	// trimmed, NFC; the number plain digits.
	for i := range vals {
		vals[i] = betcsv.Normalize(vals[i])
	}
	number, err := lottery.ParseNumber(vals[4])
	if err != nil {
		return nil, fmt.Errorf("config NUMERO=%q: %w", vals[4], err)
	}
	return &lottery.Bet{FirstName: vals[0], LastName: vals[1], Document: vals[2], Birthdate: vals[3], Number: number}, nil
}
