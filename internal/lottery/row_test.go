package lottery

import (
	"strconv"
	"strings"
	"testing"
)

// fieldByField is AppendFields as it was written before its fast path:
// each text field quoted on its own by appendField.
func fieldByField(dst []byte, bet Bet) []byte {
	dst = appendField(dst, bet.FirstName)
	dst = appendField(append(dst, ','), bet.LastName)
	dst = appendField(append(dst, ','), bet.Document)
	dst = appendField(append(dst, ','), bet.Birthdate)
	dst = strconv.AppendInt(append(dst, ','), int64(bet.Number), 10)
	return append(dst, '\n')
}

// TestAppendFieldsFastPathAgrees: every field of a set of awkward values
// (each byte that quotes a field, at every place of an eight-byte word,
// leading blanks, empty fields, UTF-8), in every position of a row, after
// prefixes of every length, renders as fieldByField renders it: the row
// an agency's digest hashes and bets.csv keeps is unchanged.
func TestAppendFieldsFastPathAgrees(t *testing.T) {
	values := []string{"", "Ana", "María José", "12345678", "1990-05-17", " x", "\tx", "x ", "é", "O'Brien"}
	for _, c := range []string{",", `"`, "\r", "\n"} {
		for at := 0; at <= 16; at++ {
			values = append(values, strings.Repeat("a", at)+c+"b", strings.Repeat("b", at)+c)
		}
	}
	plainBet := Bet{FirstName: "Santiago", LastName: "Lorca", Document: "30904465", Birthdate: "1999-03-17", Number: 7574}
	checked := 0
	for _, v := range values {
		for field := range 4 {
			bet := plainBet
			*[]*string{&bet.FirstName, &bet.LastName, &bet.Document, &bet.Birthdate}[field] = v
			for prefix := range 9 {
				dst := []byte(strings.Repeat("p", prefix))
				got, want := AppendFields(dst, bet), fieldByField([]byte(strings.Repeat("p", prefix)), bet)
				if string(got) != string(want) {
					t.Errorf("AppendFields(%+v) = %q, want %q", bet, got, want)
				}
				row, wantRow := AppendRow(nil, 12, bet), append([]byte("12,"), want[prefix:]...)
				if string(row) != string(wantRow) {
					t.Errorf("AppendRow(12, %+v) = %q, want %q", bet, row, wantRow)
				}
				checked++
			}
		}
	}
	if rows := AppendRows(nil, 12, []Bet{plainBet, {FirstName: "a,b", Number: 1}}); string(rows) != "12,Santiago,Lorca,30904465,1999-03-17,7574\n12,\"a,b\",,,,1\n" {
		t.Errorf("AppendRows = %q", rows)
	}
	t.Logf("%d rows compared", checked)
}
