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
	// Admin serves the central's admin endpoint on a free port of
	// 127.0.0.1, and reads its refusals metric at the end.
	Admin bool
	// Flood, when set, floods the central with a ClientHello from
	// FloodSource from the moment it serves, before the agencies start,
	// for Flood.For and at least until they are done (mutual TLS only).
	Flood *FloodOptions
	// ProfileDir, when set, has each process write a CPU profile there
	// (SERVER_CPU_PROFILE, CLI_CPU_PROFILE): central-RUN.pprof and
	// agency-I-RUN.pprof, where RUN is ProfileRun.
	ProfileDir string
	ProfileRun int
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

// CourseResult is what one course run measured.
type CourseResult struct {
	// Wall is the wall time from launching the agencies (or the central,
	// with WithServerStart) until the last agency has exited with its
	// winners.
	Wall time.Duration
	// FailLines are the central's fail lines over its whole run, its
	// shutdown included, by action.
	FailLines map[string]int
	// CentralCPU and AgenciesCPU are the processor time, user and
	// system, of the central (start to its stop after the run and the
	// flood, its shutdown included) and of the five agencies together,
	// from each process's rusage at exit.
	CentralCPU, AgenciesCPU time.Duration
	// Flooded is how many connections the flood opened, in FloodLasted;
	// 0 without a flood.
	Flooded     int64
	FloodLasted time.Duration
	// Refusals is quiniela_refusals_total by reason at the end (after
	// the flood); nil without Admin.
	Refusals map[string]int64
	// ListenOverflows is how many connections the host's listeners
	// dropped with a full accept queue, from the central's start to the
	// end (of the flood): see ListenOverflows.
	ListenOverflows int64
}

// Course runs the central and the five agencies as processes and returns
// the wall time from launching the agencies (or the central, with
// WithServerStart) until the last agency has exited with its winners,
// the processor time of each side and, with opts.Flood and opts.Admin,
// the flood and the refusals metric; the central's fail lines always.
func Course(ctx context.Context, opts CourseOptions) (CourseResult, error) {
	dir, err := os.MkdirTemp("", "lottery-bench-")
	if err != nil {
		return CourseResult{}, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	env, adminAddr, err := courseEnv(opts)
	if err != nil {
		return CourseResult{}, err
	}
	probe, err := opts.TLS.Probe()
	if err != nil {
		return CourseResult{}, err
	}
	overflows, err := ListenOverflows()
	if err != nil {
		return CourseResult{}, err
	}
	fails := &FailLines{}
	srv, err := StartServerLog(ctx, opts.ServerBin, dir, probe, fails, env...)
	if err != nil {
		return CourseResult{}, err
	}
	defer srv.Stop()
	flood, stopFlood, err := startFlood(ctx, opts.Flood, srv.Addr)
	if err != nil {
		return CourseResult{}, err
	}
	defer stopFlood()
	if !opts.WithServerStart {
		start = time.Now()
	}
	agenciesCPU, err := runAgencies(ctx, opts, dir, srv.Addr)
	if err != nil {
		return CourseResult{}, err
	}
	res := CourseResult{Wall: time.Since(start), AgenciesCPU: agenciesCPU, ListenOverflows: -overflows}
	if err := res.observe(ctx, flood, opts.Flood, adminAddr); err != nil {
		return CourseResult{}, err
	}
	if err := srv.Stop(); err != nil {
		return CourseResult{}, err
	}
	res.CentralCPU = srv.CPU()
	res.FailLines = fails.ByAction()
	return res, nil
}

// startFlood starts the flood fo describes, where fo is set, at the
// central at addr or at a sink of its own, and waits for its lead. It
// returns the flood (nil without) and what stops it and its sink.
func startFlood(ctx context.Context, fo *FloodOptions, addr string) (*Flood, func(), error) {
	if fo == nil {
		return nil, func() {}, nil
	}
	stopSink := func() {}
	if fo.AtSink {
		var err error
		if addr, stopSink, err = StartSink(); err != nil {
			return nil, nil, err
		}
	}
	flood, err := StartFlood(addr, FloodSource, fo.Hello, fo.Workers)
	if err != nil {
		stopSink()
		return nil, nil, err
	}
	stop := func() {
		flood.Stop()
		stopSink()
	}
	if err := sleep(ctx, fo.Lead); err != nil {
		stop()
		return nil, nil, err
	}
	return flood, stop, nil
}

// courseEnv is the central's environment for a course run and its admin
// endpoint's address ("" without opts.Admin).
func courseEnv(opts CourseOptions) ([]string, string, error) {
	env := append(opts.TLS.ServerEnv(), "AGENCIES_AMOUNT=5")
	env = append(env, profileEnv(opts, "SERVER_CPU_PROFILE", "central")...)
	if opts.StorageURL != nil {
		url, err := opts.StorageURL()
		if err != nil {
			return nil, "", err
		}
		env = append(env, "STORAGE_URL="+url)
	}
	if !opts.Admin {
		return env, "", nil
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	return append(env, "SERVER_ADMIN_ADDRESS="+addr), addr, nil
}

// observe lets the flood, where there is one, go on for the rest of its
// time, stops it, and reads what the central did meanwhile: the refusals
// metric (at adminAddr, where set) and the host's listen overflows
// (adding them to the count there at the start).
func (r *CourseResult) observe(ctx context.Context, flood *Flood, fo *FloodOptions, adminAddr string) error {
	if flood != nil {
		if err := sleep(ctx, time.Until(flood.started.Add(fo.For))); err != nil {
			return err
		}
		r.Flooded, r.FloodLasted = flood.Stop()
	}
	var err error
	if adminAddr != "" {
		if r.Refusals, err = settledRefusals(ctx, adminAddr, r.Flooded); err != nil {
			return err
		}
	}
	overflows, err := ListenOverflows()
	if err != nil {
		return err
	}
	r.ListenOverflows += overflows
	return nil
}

// runAgencies runs the five agencies of the course against the central
// at addr, waits until each has exited with its winners, and returns the
// processor time they used together.
func runAgencies(ctx context.Context, opts CourseOptions, dir, addr string) (time.Duration, error) {
	agencies, err := startAgencies(ctx, opts, dir, addr)
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
	var cpu time.Duration
	for _, p := range agencies {
		cpu += p.CPU()
	}
	return cpu, nil
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

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
