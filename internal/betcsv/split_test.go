package betcsv

import (
	"slices"
	"testing"
)

func TestSplitRow(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		want  []string // nil when the row is refused
		count int      // fields the row has, when it has the wrong number
	}{
		{"plain", "a,b,c", []string{"a", "b", "c"}, 3},
		{"empty fields", ",,", []string{"", "", ""}, 3},
		{"quoted comma", `a,"b,c",d`, []string{"a", "b,c", "d"}, 3},
		{"doubled quote", `"a""b",c,d`, []string{`a"b`, "c", "d"}, 3},
		{"only a quote", `"""",,`, []string{`"`, "", ""}, 3},
		{"quoted, empty last", `"a",b,`, []string{"a", "b", ""}, 3},
		{"unicode", "Ñandú,José María,Álvarez", []string{"Ñandú", "José María", "Álvarez"}, 3},
		{"too few", "a,b", nil, 2},
		{"too many", "a,b,c,d,e", nil, 5},
		{"too few, quoted", `"a",b`, nil, 2},
		{"too many, quoted", `"a",b,c,d`, nil, 4},
		{"unterminated", `a,"b,c`, nil, 0},
		{"text after quote", `a,"b"x,c`, nil, 0},
		{"bare quote", `a,b"c,d`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields [3]string
			n, err := splitRow(tt.line, fields[:])
			if tt.want == nil {
				if err == nil {
					t.Fatalf("splitRow(%q) = %q, want an error", tt.line, fields)
				}
				if tt.count > 0 && (err != errFieldCount || n != tt.count) {
					t.Errorf("splitRow(%q) = %d, %v; want %d fields, errFieldCount", tt.line, n, err, tt.count)
				}
				return
			}
			if err != nil || n != tt.count || !slices.Equal(fields[:], tt.want) {
				t.Errorf("splitRow(%q) = %q, %d, %v; want %q", tt.line, fields, n, err, tt.want)
			}
		})
	}
}

// TestSplitRowUnquotedDoesNotAllocate: the storage read depends on rows
// without quotes costing no allocation.
func TestSplitRowUnquotedDoesNotAllocate(t *testing.T) {
	var fields [6]string
	line := "7,José,Álvarez,30904465,1999-03-17,7574"
	if allocs := testing.AllocsPerRun(100, func() { _, _ = splitRow(line, fields[:]) }); allocs != 0 {
		t.Errorf("splitRow allocates %v times per unquoted row", allocs)
	}
}
