package loadgen

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/loteria-nacional/quiniela/internal/harness"
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
	// StorageURL, when set, is the central's STORAGE_URL: a fresh
	// PostgreSQL database for the run (see Databases).
	StorageURL func() (string, error)
	TLS        *TLS // mutual TLS; nil is plaintext
}

// loggedWinners returns the cant_ganadores of the first successful
// consulta_ganadores line in an agency's log.
func loggedWinners(log string) (string, bool) {
	for _, l := range harness.Filter(harness.ParseLog(log), "consulta_ganadores", logging.ResultSuccess) {
		n, ok := l.Fields["cant_ganadores"]
		return n, ok
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
	probe, err := opts.TLS.Probe()
	if err != nil {
		return 0, err
	}
	env := append(opts.TLS.ServerEnv(), "AGENCIES_AMOUNT=5")
	if opts.StorageURL != nil {
		url, err := opts.StorageURL()
		if err != nil {
			return 0, err
		}
		env = append(env, "STORAGE_URL="+url)
	}
	srv, err := StartServer(ctx, opts.ServerBin, dir, probe, env...)
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	if !opts.WithServerStart {
		start = time.Now()
	}
	agencies, err := startAgencies(ctx, opts, dir, srv.Addr)
	if err != nil {
		return 0, err
	}
	defer killAll(agencies) // the rest, when one fails
	exited := make(chan int, len(agencies))
	for i, p := range agencies {
		go func() {
			<-p.Done()
			exited <- i
		}()
	}
	for range agencies {
		i := <-exited
		if err := checkAgency(agencies[i], CourseWinners[i]); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// startAgencies starts the five agencies of the course in dir, against
// the central at addr. They are killed when ctx is done.
func startAgencies(ctx context.Context, opts CourseOptions, dir, addr string) ([]*harness.Process, error) {
	agencies := make([]*harness.Process, 0, len(CourseSizes))
	for i := range CourseSizes {
		id := strconv.Itoa(i + 1)
		p, err := harness.Start(ctx, harness.Spec{
			Name: "agency " + id, Bin: opts.ClientBin, Dir: dir,
			Env: append(append(os.Environ(),
				"CLI_ID="+id,
				"CLI_SERVER_ADDRESS="+addr,
				"CLI_DATA_FILE="+filepath.Join(opts.DataDir, "agency-"+id+".csv"),
				"CLI_BATCH_MAXAMOUNT="+strconv.Itoa(opts.BatchMax),
			), opts.TLS.ClientEnv(i+1)...),
		})
		if err != nil {
			killAll(agencies)
			return nil, err
		}
		agencies = append(agencies, p)
	}
	return agencies, nil
}

// killAll kills every process of procs that still runs.
func killAll(procs []*harness.Process) {
	for _, p := range procs {
		p.Kill()
	}
}

// checkAgency says what is wrong with an agency that has exited: an
// error, or no line with its winners.
func checkAgency(p *harness.Process, winners int) error {
	out := p.Log() + p.Stderr()
	if err := p.Err(); err != nil {
		return fmt.Errorf("%s: %v\n%s", p.Name(), err, out)
	}
	n, ok := loggedWinners(p.Log())
	if !ok || n != strconv.Itoa(winners) {
		return fmt.Errorf("%s: wrong or no winners line:\n%s", p.Name(), out)
	}
	return nil
}
