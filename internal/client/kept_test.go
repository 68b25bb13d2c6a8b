package client

import (
	"fmt"
	"os"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestUploadKeepsSmallFile checks that the upload of a small file yields
// the bets the count pass read, without reading the file again (a file
// rewritten after the count is not what it sends), and that a file of
// more than keepBets bets is read again, so that the agency's memory does
// not grow with a large file.
func TestUploadKeepsSmallFile(t *testing.T) {
	tests := []struct {
		name     string
		bets     int
		wantKept bool
	}{
		{"small", 3, true},
		{"at the limit", keepBets, true},
		{"over the limit", keepBets + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := make([]string, tt.bets)
			for i := range lines {
				lines[i] = fmt.Sprintf("Ana,Paz,%d,2000-01-01,%d", i+1, i%10000)
			}
			a := newTestAgency(t, "127.0.0.1:1", lines, &harness.Buffer{})
			declared, err := a.count()
			if err != nil || declared == nil {
				t.Fatalf("count: %v, %v", declared, err)
			}
			if declared.Total != uint64(tt.bets) || declared.Digest != digestOf(lines...) {
				t.Fatalf("declared %d bets, digest %s; want %d, %s", declared.Total, declared.Digest, tt.bets, digestOf(lines...))
			}
			// Rewrite the file: only a pass that reads it again sees this.
			if err := os.WriteFile(a.cfg.DataFile, []byte("Eva,Luz,99,2001-02-03,1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			all, closer, err := a.source(true)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			var docs []string
			for bet, err := range all {
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, bet.Document)
			}
			kept := len(docs) == tt.bets && docs[0] == "1" && docs[len(docs)-1] == fmt.Sprint(tt.bets)
			reread := len(docs) == 1 && docs[0] == "99"
			if kept != tt.wantKept || reread == tt.wantKept {
				t.Errorf("upload yielded %d bets (first %q): kept %v, want kept %v", len(docs), docs[0], kept, tt.wantKept)
			}
		})
	}
}
