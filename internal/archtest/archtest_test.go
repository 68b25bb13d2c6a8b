package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The limits of a non-test file and of a non-test function, in lines. A
// function counts from its func line to its closing brace, both included.
const (
	MaxFileLines = 500
	MaxFuncLines = 60
)

// module is the module under test: its root directory and path, found once.
type module struct {
	root string // the directory of go.mod
	path string // the module path go.mod declares
}

// findModule walks up from the test's directory to go.mod.
func findModule(t *testing.T) module {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(data)) {
				if p, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return module{root: dir, path: strings.Trim(strings.TrimSpace(p), `"`)}
				}
			}
			t.Fatalf("%s/go.mod declares no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// sourceFiles returns the module's non-test Go files, relative to its
// root with slashes, skipping testdata, hidden and underscore directories
// and nested modules, as the go command does.
func sourceFiles(t *testing.T, m module) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(m.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == m.root {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			rel, err := filepath.Rel(m.root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files under %s", m.root)
	}
	return files
}

// funcName names a function as a reader looks for it: F, or T.M for a
// method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	for {
		switch x := typ.(type) {
		case *ast.StarExpr:
			typ = x.X
			continue
		case *ast.IndexExpr:
			typ = x.X
			continue
		case *ast.IndexListExpr:
			typ = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fn.Name.Name
		}
		return fn.Name.Name
	}
}

// TestSizes fails naming each non-test file over MaxFileLines lines and
// each non-test function over MaxFuncLines.
func TestSizes(t *testing.T) {
	m := findModule(t)
	fset := token.NewFileSet()
	for _, rel := range sourceFiles(t, m) {
		f, err := parser.ParseFile(fset, filepath.Join(m.root, rel), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, problem := range oversized(fset, f) {
			t.Errorf("%s%s", rel, problem)
		}
	}
}

// oversized describes what is too long in f: the file itself, and each of
// its functions, counted from its func line to its closing brace.
func oversized(fset *token.FileSet, f *ast.File) []string {
	var problems []string
	if n := fset.File(f.Pos()).LineCount(); n > MaxFileLines {
		problems = append(problems, fmt.Sprintf(": %d lines, over %d: split it by concern", n, MaxFileLines))
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		start, end := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
		if n := end - start + 1; n > MaxFuncLines {
			problems = append(problems, fmt.Sprintf(":%d: %s is %d lines, over %d", start, funcName(fn), n, MaxFuncLines))
		}
	}
	return problems
}

// TestOversized checks the limits at their edges, on made-up files.
func TestOversized(t *testing.T) {
	// function returns a function of n lines, its doc comment not counted.
	function := func(name string, n int) string {
		return "// " + name + " is long.\nfunc " + name + "() {\n" + strings.Repeat("\t_ = 0\n", n-2) + "}\n"
	}
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"a function at the limit", function("F", MaxFuncLines), nil},
		{"a function over it", function("F", MaxFuncLines+1), []string{fmt.Sprintf(":4: F is %d lines, over %d", MaxFuncLines+1, MaxFuncLines)}},
		{"a file at the limit", strings.Repeat("\n", MaxFileLines-3) + "var x = 0\n", nil},
		{"a file over it", strings.Repeat("\n", MaxFileLines-2) + "var x = 0\n", []string{fmt.Sprintf(": %d lines, over %d: split it by concern", MaxFileLines+1, MaxFileLines)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			// Two lines of package clause before src.
			f, err := parser.ParseFile(fset, "p.go", "package p\n\n"+tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := oversized(fset, f); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// imports returns the packages imported by the non-test files of the
// module's package in dir (relative, with slashes), sorted, each once.
func imports(t *testing.T, m module, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(m.root, filepath.FromSlash(dir)))
	if err != nil {
		t.Fatal(err)
	}
	if !hasGoFiles(entries) {
		t.Fatalf("%s: no Go package there", dir)
	}
	fset := token.NewFileSet()
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(m.root, filepath.FromSlash(dir), name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatalf("%s/%s: import %s: %v", dir, name, imp.Path.Value, err)
			}
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// hasGoFiles reports whether entries hold a non-test Go file.
func hasGoFiles(entries []fs.DirEntry) bool {
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true
		}
	}
	return false
}

// isStandard reports whether an import path is the standard library's: its
// first element has no dot, as the go command decides.
func isStandard(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// within reports whether p is pkg or a package under it.
func within(p, pkg string) bool {
	return p == pkg || strings.HasPrefix(p, pkg+"/")
}

// layerRule is one rule of the layering: the non-test files of dir import
// no package that forbidden reports.
type layerRule struct {
	dir       string
	says      string
	forbidden func(m module, p string) bool
}

// layerRules are the rules TestLayering checks, as the README's
// Architecture section draws them.
func layerRules() []layerRule {
	internal := func(name string) func(module, string) bool {
		return func(m module, p string) bool { return within(p, path.Join(m.path, "internal", name)) }
	}
	return []layerRule{
		{
			dir:       "internal/lottery",
			says:      "the domain imports only the standard library",
			forbidden: func(_ module, p string) bool { return !isStandard(p) },
		},
		{
			dir:       "internal/server",
			says:      "the server reaches the storage only through lottery.Ledger",
			forbidden: internal("storage"),
		},
		{
			dir:       "internal/server",
			says:      "the server is given its settings; it reads no configuration",
			forbidden: internal("config"),
		},
		{
			dir:       "cmd/server",
			says:      "cmd/server leaves the storage to the wiring that opens it",
			forbidden: internal("storage"),
		},
	}
}

// TestLayering checks what each layer may import (see layerRules).
func TestLayering(t *testing.T) {
	m := findModule(t)
	for _, rule := range layerRules() {
		t.Run(rule.dir+": "+rule.says, func(t *testing.T) {
			var bad []string
			for _, p := range imports(t, m, rule.dir) {
				if rule.forbidden(m, p) {
					bad = append(bad, p)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s imports %s: %s", rule.dir, strings.Join(bad, ", "), rule.says)
			}
		})
	}
}

// TestFuncName checks the names TestSizes reports.
func TestFuncName(t *testing.T) {
	src := `package p
func F() {}
func (T) M() {}
func (*T) P() {}
func (g G[K]) Q() {}
func (g *H[K, V]) R() {}
`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range f.Decls {
		got = append(got, funcName(d.(*ast.FuncDecl)))
	}
	if want := []string{"F", "T.M", "T.P", "G.Q", "H.R"}; !slices.Equal(got, want) {
		t.Errorf("funcName: got %v, want %v", got, want)
	}
}
