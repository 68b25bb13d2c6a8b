package archtest

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// internalPackages returns the module's packages under internal/ (each a
// directory holding a Go file, test-only packages included), relative to
// its root with slashes, sorted.
func internalPackages(t *testing.T, m module) []string {
	t.Helper()
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(m.root, "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".go") {
			return nil
		}
		rel, err := filepath.Rel(m.root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkgs = append(pkgs, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// readme returns the README's text.
func readme(t *testing.T, m module) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(m.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var tablePackage = regexp.MustCompile("`(internal/[a-z0-9_/]+)`")

// packageTable returns the packages the README's package table names in
// its first column, in order, as often as they are named.
func packageTable(t *testing.T, text string) []string {
	t.Helper()
	_, table, ok := strings.Cut(text, "\n| package | what it is |\n")
	if !ok {
		t.Fatal("README.md: no table with the header | package | what it is |")
	}
	var named []string
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range tablePackage.FindAllStringSubmatch(cells[1], -1) {
			named = append(named, m[1])
		}
	}
	return named
}

// TestREADMEPackageTable checks that the README's package table names
// every package under internal/ once, and nothing that is not one: a
// package added without a word in the README, or a row left for one
// removed, fails here.
func TestREADMEPackageTable(t *testing.T) {
	m := findModule(t)
	pkgs := internalPackages(t, m)
	named := packageTable(t, readme(t, m))
	seen := map[string]int{}
	for _, p := range named {
		seen[p]++
	}
	for _, p := range pkgs {
		if seen[p] == 0 {
			t.Errorf("README.md's package table does not name %s: add a row saying what it is", p)
		}
	}
	for p, n := range seen {
		switch {
		case !slices.Contains(pkgs, p):
			t.Errorf("README.md's package table names %s, which is no package", p)
		case n > 1:
			t.Errorf("README.md's package table names %s %d times", p, n)
		}
	}
}

// diagram returns the lines of the README's architecture diagram: the
// first fenced block of its Architecture section.
func diagram(t *testing.T, text string) []string {
	t.Helper()
	_, section, ok := strings.Cut(text, "\n## Architecture\n")
	if !ok {
		t.Fatal("README.md: no Architecture section")
	}
	_, block, ok := strings.Cut(section, "```\n")
	if ok {
		block, _, ok = strings.Cut(block, "```\n")
	}
	if !ok {
		t.Fatal("README.md: no diagram in the Architecture section")
	}
	return strings.Split(block, "\n")
}

var (
	diagramPackage = regexp.MustCompile(`\binternal/[a-z0-9_]+(?:/[a-z0-9_]+)*`)
	// usedBy is a diagram line's closing list of the packages that import
	// those it names: "...: server, client, cmd".
	usedBy = regexp.MustCompile(`: ([a-z0-9_]+(?:, [a-z0-9_]+)*)$`)
)

// TestREADMEDiagram checks the README's architecture diagram against the
// code: it names every package under internal/ (a package below another
// may be named by its last element, as "apptest"); and where a line ends
// with the packages that use those it names ("internal/betcsv (...):
// client, storage"), that list is exactly the module's packages whose
// non-test files import one of them (one of them included, where it
// imports another), "cmd" standing for any of cmd/.
func TestREADMEDiagram(t *testing.T) {
	m := findModule(t)
	lines := diagram(t, readme(t, m))
	whole := strings.Join(lines, "\n")
	for _, p := range internalPackages(t, m) {
		if !regexp.MustCompile(`\b`+regexp.QuoteMeta(p)+`\b`).MatchString(whole) &&
			(strings.Count(p, "/") < 2 || !strings.Contains(whole, path.Base(p))) {
			t.Errorf("README.md's diagram does not name %s", p)
		}
	}
	importers := importersOf(t, m)
	for _, line := range lines {
		list := usedBy.FindStringSubmatch(strings.TrimSpace(line))
		if list == nil {
			continue
		}
		named := diagramPackage.FindAllString(line, -1)
		want := map[string]bool{}
		for _, p := range named {
			for _, imp := range importers[p] {
				if imp != p {
					want[shortName(imp)] = true
				}
			}
		}
		got := strings.Split(list[1], ", ")
		for _, g := range got {
			if !want[g] {
				t.Errorf("README.md's diagram says %s uses %s; it imports none of them", g, strings.Join(named, ", "))
			}
			delete(want, g)
		}
		for w := range want {
			t.Errorf("README.md's diagram line of %s does not list %s, which imports them", strings.Join(named, ", "), w)
		}
	}
}

// shortName is how the diagram's lists name a package: cmd for any of
// cmd/, else its path below internal/.
func shortName(p string) string {
	if within(p, "cmd") {
		return "cmd"
	}
	return strings.TrimPrefix(p, "internal/")
}

// importersOf maps each package under internal/ to the module's packages
// (internal/ and cmd/) whose non-test files import it, relative paths.
func importersOf(t *testing.T, m module) map[string][]string {
	t.Helper()
	dirs := map[string]bool{}
	for _, f := range sourceFiles(t, m) {
		if dir := path.Dir(f); within(dir, "internal") || within(dir, "cmd") {
			dirs[dir] = true
		}
	}
	out := map[string][]string{}
	for dir := range dirs {
		for _, p := range imports(t, m, dir) {
			if rel, ok := strings.CutPrefix(p, m.path+"/"); ok {
				out[rel] = append(out[rel], dir)
			}
		}
	}
	return out
}
