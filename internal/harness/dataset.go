package harness

import (
	"archive/zip"
	"io"
	"path/filepath"
	"strings"
)

// DatasetPath is where the course's dataset reaches the project:
// ../shared/data/dataset.zip beside the repository's root. It is never
// copied into the repository.
func DatasetPath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "shared", "data", "dataset.zip"), nil
}

// DatasetFile is one agency file of the course dataset.
type DatasetFile struct {
	Name string // its base name, e.g. agency-1.csv
	Data []byte
}

// Dataset returns the agency files (*.csv) of the course dataset, in the
// zip's order: about 4 MB. It skips tb where the dataset is absent, and
// fails it where the dataset is unreadable or holds no agency file.
func Dataset(tb TB) []DatasetFile {
	tb.Helper()
	path, err := DatasetPath()
	if err != nil {
		tb.Fatalf("course dataset: %v", err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Skipf("course dataset ../shared/data/dataset.zip not found: %v", err)
	}
	defer zr.Close()
	var files []DatasetFile
	for _, f := range zr.File {
		name := filepath.Base(f.Name) // never a path of the zip's choosing
		if f.FileInfo().IsDir() || !strings.HasSuffix(name, ".csv") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			tb.Fatalf("course dataset %s: %v", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatalf("course dataset %s: %v", f.Name, err)
		}
		files = append(files, DatasetFile{Name: name, Data: data})
	}
	if len(files) == 0 {
		tb.Fatalf("no .csv file in %s", path)
	}
	return files
}
