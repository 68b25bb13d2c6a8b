package loadgen

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/sampledata"
)

// CourseSizes are the bets of the course dataset's five agencies.
var CourseSizes = []int{26936, 25518, 16014, 9238, 991}

// CourseWinners are the winners of the course dataset's five agencies.
var CourseWinners = []int{2, 3, 3, 2, 0}

// PrepareCourseData writes agency-1..5.csv into dir: the course dataset
// from zipPath where that file exists, else generated files of the same
// sizes and winners. It reports which it used.
func PrepareCourseData(zipPath, dir string) (string, error) {
	if zr, err := zip.OpenReader(zipPath); err == nil {
		defer zr.Close()
		found := 0
		for _, f := range zr.File {
			name := filepath.Base(f.Name)
			if ok, _ := filepath.Match("agency-[1-5].csv", name); !ok {
				continue
			}
			if err := ExtractFile(f, filepath.Join(dir, name)); err != nil {
				return "", err
			}
			found++
		}
		if found == len(CourseSizes) {
			return "course dataset " + zipPath, nil
		}
	}
	for i, n := range CourseSizes {
		spec := sampledata.Spec{Agency: i + 1, Bets: n, Winners: CourseWinners[i], Seed: 1}
		if err := sampledata.WriteFile(filepath.Join(dir, fmt.Sprintf("agency-%d.csv", i+1)), spec); err != nil {
			return "", err
		}
	}
	return "generated files of the course dataset's sizes", nil
}

// ExtractFile writes the content of f, a file of a zip archive, to dst.
func ExtractFile(f *zip.File, dst string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CourseOptions describe one course-dataset run.
type CourseOptions struct {
	ServerBin, ClientBin string
	DataDir              string // agency-1..5.csv
	BatchMax             int
	// WithServerStart counts the central's start in the time, instead of
	// starting the clock once it listens.
	WithServerStart bool
}

// loggedWinners returns the cant_ganadores of the first successful
// consulta_ganadores line in an agency's log.
func loggedWinners(log string) (string, bool) {
	for line := range strings.Lines(log) {
		l, ok := logging.Parse(strings.TrimRight(line, "\r\n"))
		if ok && l.Action == "consulta_ganadores" && l.Result == logging.ResultSuccess {
			n, ok := l.Fields["cant_ganadores"]
			return n, ok
		}
	}
	return "", false
}

// Course runs the central and the five agencies as processes and returns
// the wall time from launching the agencies (or the central, with
// WithServerStart) until the last agency has exited with its winners.
func Course(ctx context.Context, opts CourseOptions) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "lottery-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	srv, err := StartServer(ctx, opts.ServerBin, dir, "AGENCIES_AMOUNT=5")
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	if !opts.WithServerStart {
		start = time.Now()
	}
	type result struct {
		agency int
		out    []byte
		err    error
	}
	results := make(chan result, len(CourseSizes))
	for i := range CourseSizes {
		cmd := exec.CommandContext(ctx, opts.ClientBin)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"CLI_ID="+strconv.Itoa(i+1),
			"CLI_SERVER_ADDRESS="+srv.Addr,
			"CLI_DATA_FILE="+filepath.Join(opts.DataDir, fmt.Sprintf("agency-%d.csv", i+1)),
			"CLI_BATCH_MAXAMOUNT="+strconv.Itoa(opts.BatchMax),
		)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		go func() {
			err := cmd.Wait()
			results <- result{agency: i + 1, out: out.Bytes(), err: err}
		}()
	}
	for range CourseSizes {
		r := <-results
		if r.err != nil {
			return 0, fmt.Errorf("agency %d: %v\n%s", r.agency, r.err, r.out)
		}
		n, ok := loggedWinners(string(r.out))
		if !ok || n != strconv.Itoa(CourseWinners[r.agency-1]) {
			return 0, fmt.Errorf("agency %d: wrong or no winners line:\n%s", r.agency, r.out)
		}
	}
	return time.Since(start), nil
}
