package betcsv

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

func storeBet(agency int, first, last, doc string, number int) lottery.Bet {
	return lottery.Bet{Agency: agency, FirstName: first, LastName: last, Document: doc, Birthdate: "1990-05-17", Number: number}
}

func TestStoreRowFidelity(t *testing.T) {
	tests := []lottery.Bet{
		storeBet(1, "Santiago", "Álvarez", "12345678", 7574),
		storeBet(2, "Juan, Jr", "Pérez", "1", 0),
		storeBet(3, `Ana "La Negra"`, `O"Brien`, "99999999", 9999),
		storeBet(4, " Espacio", "Tab\tDentro", "42", 12),
		storeBet(5, `"`, `,`, "7", 1),
	}
	var buf []byte
	for _, b := range tests {
		buf = AppendStoreRow(buf, b)
	}
	// encoding/csv, like Python's csv reader, must read the same fields.
	recs, err := csv.NewReader(bytes.NewReader(buf)).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read our rows: %v\n%s", err, buf)
	}
	got, err := collect(t, ReadStoreFile(bytes.NewReader(buf)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, tests) {
		t.Errorf("ReadStoreFile round trip:\n got %+v\nwant %+v", got, tests)
	}
	for i, rec := range recs {
		want := []string{fmt.Sprint(tests[i].Agency), tests[i].FirstName, tests[i].LastName, tests[i].Document, tests[i].Birthdate, fmt.Sprint(tests[i].Number)}
		if !slices.Equal(rec, want) {
			t.Errorf("row %d read by encoding/csv = %q, want %q", i, rec, want)
		}
	}
}

func TestReadStoreFileRejectsBadRows(t *testing.T) {
	tests := map[string]string{
		"five fields":      "1,a,b,1,1990-01-01\n",
		"seven fields":     "1,a,b,1,1990-01-01,5,6\n",
		"agency not int":   "x,a,b,1,1990-01-01,5\n",
		"number not int":   "1,a,b,1,1990-01-01,x\n",
		"unterminated":     "1,\"a,b,1,1990-01-01,5\n",
		"quote in field":   "1,a\"b,c,1,1990-01-01,5\n",
		"text after quote": "1,\"a\"x,c,1,1990-01-01,5\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			var err error
			for _, err = range ReadStoreFile(strings.NewReader(in)) {
				if err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), "line 1") {
				t.Errorf("ReadStoreFile(%q) error = %v, want one naming line 1", in, err)
			}
		})
	}
}

// TestReadStoreFileAcrossChunks reads rows that straddle ReadStoreFile's chunks, a
// last row without a newline, and CRLF endings.
func TestReadStoreFileAcrossChunks(t *testing.T) {
	var want []lottery.Bet
	var buf []byte
	for i := range 3 * readChunk / 40 {
		b := storeBet(1+i%7, "Nombre", fmt.Sprintf("Ape, llido%d", i), fmt.Sprint(10000000+i), i%10000)
		want = append(want, b)
		buf = AppendStoreRow(buf, b)
		if i%5 == 0 { // some rows end in CRLF, as an editor may leave them
			buf = append(buf[:len(buf)-1], '\r', '\n')
		}
	}
	buf = buf[:len(buf)-1] // the last row has no newline
	got, err := collect(t, ReadStoreFile(bytes.NewReader(buf)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read %d bets, want the %d written, in order", len(got), len(want))
	}
}

// TestScanRowAgreesWithSplitRow: rows of every shape, alone and after a
// row of each length from 1 to 16 bytes (so that every byte of them falls
// at every place of scanRow's eight-byte words), followed by a common
// row, parse to the bets (or the error) that parseStoreRow gives each
// line alone: the fast path only ever answers what the slow one would.
func TestScanRowAgreesWithSplitRow(t *testing.T) {
	rows := []string{
		"1,Ana,Pérez,12345678,1990-05-17,7574",
		"12,Ana,Pérez,12345678,1990-05-17,7574\r",
		"3,\"Juan, Jr\",Pérez,1,1990-05-17,0",
		"3,Juan,\"O\"\"Brien\",1,1990-05-17,0\r",
		"1,a\"b,c,1,1990-01-01,5",
		"1,a\"b,c,1990-01-01,5",
		"1,a,b,c,\"d,5",
		"1,a,b,1,\"1990-01-01\"",
		"1,a,b,1,1990-01-01",
		"1,a,b,1,1990-01-01,5,6",
		"1,,,,,",
		"x,a,b,1,1990-01-01,5",
		"1,a,b,1,1990-01-01,x",
		"1,a,b,1,1990-01-01,\r",
		"+1,a,b,1,1990-01-01,-5",
		"1234567890,a,b,1,1990-01-01,12345678901",
		"0001,a,b,1,1990-01-01,0009",
		"",
		"\r",
		",,,,,,,,,,,,,,,,,,,,",
		"1,Nombre muy largo con espacios,Apellido,99999999,2000-12-31,1",
	}
	pads := []string{""}
	for n := 1; n <= 16; n++ {
		pads = append(pads, "1,a,b,1,1990-01-01,5"[:n])
	}
	for _, row := range rows {
		for _, pad := range pads {
			lines := []string{row}
			if pad != "" {
				lines = []string{pad, row}
			}
			// The row last (its end in scanRow's byte loop), then before another.
			if row != "" || pad != "" { // "" alone is an empty file, no row
				agreeWithSplitRow(t, lines)
			}
			agreeWithSplitRow(t, append(lines, "2,Eva,Gómez,7,2001-02-03,42"))
		}
	}
}

// agreeWithSplitRow checks ParseStoreRows on lines joined against
// parseStoreRow on each line.
func agreeWithSplitRow(t *testing.T, lines []string) {
	t.Helper()
	var want []lottery.Bet
	var wantErr error
	for i, l := range lines {
		b, err := parseStoreRow(strings.TrimSuffix(l, "\r"))
		if err != nil {
			wantErr = fmt.Errorf("read bets line %d: %w", i+1, err)
			break
		}
		want = append(want, b)
	}
	chunk := strings.Join(lines, "\n")
	got, err := collect(t, ParseStoreRows(chunk))
	if !slices.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Errorf("ParseStoreRows(%q) = %+v, %v; want %+v, %v", chunk, got, err, want, wantErr)
	}
}
