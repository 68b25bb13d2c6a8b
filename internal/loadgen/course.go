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
	// ProfileDir, when set, has each process write a CPU profile there
	// (SERVER_CPU_PROFILE, CLI_CPU_PROFILE): central-RUN.pprof and
	// agency-I-RUN.pprof, where RUN is ProfileRun.
	ProfileDir string
	ProfileRun int
}

// CourseResult is what one course run measured.
type CourseResult struct {
	Wall time.Duration // launching the agencies (or the central) → the last agency's exit
	// CentralCPU and AgenciesCPU are the processor time, user and
	// system, of the central (start to its stop after the run) and of
	// the five agencies together, from each process's rusage.
	CentralCPU, AgenciesCPU time.Duration
}

// CourseBets is the number of bets of the course dataset.
const CourseBets = 26936 + 25518 + 16014 + 9238 + 991

// profileEnv is the variable that has a process write its CPU profile
// as name in opts.ProfileDir, when that is set.
func profileEnv(opts CourseOptions, variable, name string) []string {
	if opts.ProfileDir == "" {
		return nil
	}
	return []string{fmt.Sprintf("%s=%s", variable, filepath.Join(opts.ProfileDir, fmt.Sprintf("%s-%d.pprof", name, opts.ProfileRun)))}
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
// WithServerStart) until the last agency has exited with its winners,
// and the processor time of each side.
func Course(ctx context.Context, opts CourseOptions) (CourseResult, error) {
	dir, err := os.MkdirTemp("", "lottery-bench-")
	if err != nil {
		return CourseResult{}, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	probe, err := opts.TLS.Probe()
	if err != nil {
		return CourseResult{}, err
	}
	env := append(opts.TLS.ServerEnv(), "AGENCIES_AMOUNT=5")
	env = append(env, profileEnv(opts, "SERVER_CPU_PROFILE", "central")...)
	if opts.StorageURL != nil {
		url, err := opts.StorageURL()
		if err != nil {
			return CourseResult{}, err
		}
		env = append(env, "STORAGE_URL="+url)
	}
	srv, err := StartServer(ctx, opts.ServerBin, dir, probe, env...)
	if err != nil {
		return CourseResult{}, err
	}
	defer srv.Stop()
	if !opts.WithServerStart {
		start = time.Now()
	}
	agencies, err := startAgencies(ctx, opts, dir, srv.Addr)
	if err != nil {
		return CourseResult{}, err
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
			return CourseResult{}, err
		}
	}
	res := CourseResult{Wall: time.Since(start)}
	for _, p := range agencies {
		res.AgenciesCPU += p.CPU()
	}
	if err := srv.Stop(); err != nil {
		return CourseResult{}, err
	}
	res.CentralCPU = srv.CPU()
	return res, nil
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
			), append(opts.TLS.ClientEnv(i+1), profileEnv(opts, "CLI_CPU_PROFILE", "agency-"+id)...)...),
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
