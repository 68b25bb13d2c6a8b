// Command loadgen measures the lottery end to end on this machine, with
// the real binaries on 127.0.0.1. `make bench` runs it.
//
//	loadgen course [-runs 5 -profile DIR]
//	                              the course dataset: 5 client processes;
//	                              wall time and CPU per bet of each side
//	loadgen course -flood [-runs 5 -flood-for 10s]
//	                              the same over mutual TLS, every other run
//	                              under a handshake flood from 127.0.0.2
//	loadgen scale [-agencies 1000 -bets 10000 -runs 1]
//	                              many agencies of the real client code in
//	                              this process, against the real central
//
// Each figure is printed as one line: the median of the runs, with min and
// max.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loteria-nacional/quiniela/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen course|scale [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "course":
		err = course(ctx, os.Args[2:])
	case "scale":
		err = scale(ctx, os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: loadgen course|scale [flags]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

func course(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("course", flag.ExitOnError)
	runs := fs.Int("runs", 5, "runs per figure")
	dataset := fs.String("dataset", "../shared/data/dataset.zip", "the course dataset; generated files of its sizes where absent")
	batch := fs.Int("batch", 200, "batch.maxAmount of the agencies")
	withTLS := fs.Bool("tls", false, "mutual TLS, with certificates made for the run")
	postgres := fs.Bool("postgres", false, "keep the bets in PostgreSQL (a throwaway cluster on this machine, a database a run)")
	profile := fs.String("profile", "", "write a CPU profile of each process of each run into this `dir` (central-RUN.pprof, agency-I-RUN.pprof; go tool pprof merges them)")
	flood := newFloodFlags(fs)
	fs.Parse(args)
	*withTLS = *withTLS || flood.on

	storage, closeStorage, err := storageOf(*postgres)
	if err != nil {
		return err
	}
	defer closeStorage()
	dir, err := os.MkdirTemp("", "lottery-course-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	source, err := loadgen.PrepareCourseData(*dataset, dir)
	if err != nil {
		return err
	}
	var lotteryTLS *loadgen.TLS
	if *withTLS {
		if lotteryTLS, err = loadgen.MakeTLS(filepath.Join(dir, "certs"), 5); err != nil {
			return err
		}
	}
	base := loadgen.CourseOptions{
		ServerBin: filepath.Join(binDir(), "server"), ClientBin: filepath.Join(binDir(), "client"),
		DataDir: dir, BatchMax: *batch, TLS: lotteryTLS, StorageURL: storage, ProfileDir: *profile,
	}
	if flood.on {
		fmt.Printf("course under a handshake flood: %s, 78,697 bets from 5 agencies, durable acks in %s, batch.maxAmount %d, %s\n", source, backendName(*postgres), *batch, transport(*withTLS))
		return floodCourse(ctx, base, flood, *runs)
	}
	fmt.Printf("course: %s, 78,697 bets from 5 agencies, durable acks in %s, batch.maxAmount %d, %s\n", source, backendName(*postgres), *batch, transport(*withTLS))
	for _, withStart := range []bool{false, true} {
		var f courseFigures
		for run := range *runs {
			opts := base
			opts.WithServerStart = withStart
			opts.ProfileRun = run + boolInt(withStart)**runs
			res, err := loadgen.Course(ctx, opts)
			if err != nil {
				return err
			}
			f.add(res)
		}
		f.print(withStart, *runs)
	}
	return nil
}

// courseFigures are the figures of every course run: wall time in
// milliseconds, processor time per bet in microseconds.
type courseFigures struct {
	wall, central, agencies, total []float64
}

func (f *courseFigures) add(res loadgen.CourseResult) {
	perBet := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / loadgen.CourseBets }
	f.wall = append(f.wall, loadgen.Millis(res.Wall))
	f.central = append(f.central, perBet(res.CentralCPU))
	f.agencies = append(f.agencies, perBet(res.AgenciesCPU))
	f.total = append(f.total, perBet(res.CentralCPU+res.AgenciesCPU))
}

// print prints the wall time, then (for the runs that start the clock
// once the central serves) the processor time per bet of each side: the
// headline figures, less noisy than wall time on a shared machine.
func (f *courseFigures) print(withStart bool, runs int) {
	if withStart {
		fmt.Println(loadgen.Summarize(f.wall).Line("course: server start -> last winners", "ms", runs))
		return
	}
	fmt.Println(loadgen.Summarize(f.wall).Line("course: clients launched -> last winners", "ms", runs))
	fmt.Println(loadgen.Summarize(f.agencies).Line("course: CPU per bet, the 5 agencies", "us/bet", runs))
	fmt.Println(loadgen.Summarize(f.central).Line("course: CPU per bet, the central", "us/bet", runs))
	fmt.Println(loadgen.Summarize(f.total).Line("course: CPU per bet, central + agencies", "us/bet", runs))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func scale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	agencies := fs.Int("agencies", 1000, "agencies, all connected at once")
	bets := fs.Int("bets", 10000, "bets per agency")
	winners := fs.Int("winners", 2, "winners per agency")
	batch := fs.Int("batch", 200, "batch.maxAmount")
	runs := fs.Int("runs", 1, "runs")
	logLevel := fs.String("log-level", "INFO", "LOGGING_LEVEL of the central")
	rate := fs.Float64("rate", 0, "total bets/s the agencies offer, shared evenly (0: as fast as they can)")
	addr := fs.String("addr", "", "drive a central already listening there (for profiling it) instead of starting one")
	withTLS := fs.Bool("tls", false, "mutual TLS, with certificates made for the run")
	postgres := fs.Bool("postgres", false, "keep the bets in PostgreSQL (a throwaway cluster on this machine, a database a run)")
	replicas := fs.Int("replicas", 1, "centrals over the one database (with -postgres); the agencies are spread over them")
	fs.Parse(args)
	opts := loadgen.ScaleOptions{Agencies: *agencies, Bets: *bets, Winners: *winners, BatchMax: *batch, Rate: *rate}
	if *withTLS {
		dir, err := os.MkdirTemp("", "lottery-certs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if opts.TLS, err = loadgen.MakeTLS(filepath.Join(dir, "certs"), *agencies); err != nil {
			return err
		}
	}
	if *addr != "" {
		res, err := loadgen.Scale(ctx, *addr, opts)
		fmt.Printf("%+v\n", res)
		return err
	}

	offered := "as fast as they can"
	if *rate > 0 {
		offered = fmt.Sprintf("offered at %.0f bets/s", *rate)
	}
	storage, closeStorage, err := storageOf(*postgres)
	if err != nil {
		return err
	}
	defer closeStorage()
	if storage == nil {
		*replicas = 1
	}
	fmt.Printf("scale: %d agencies x %d bets = %d bets, %s, durable acks in %s, %d central(s), %s, central LOGGING_LEVEL=%s\n",
		*agencies, *bets, *agencies**bets, offered, backendName(*postgres), *replicas, transport(*withTLS), *logLevel)
	var figures scaleFigures
	for range *runs {
		res, peak, err := scaleRun(ctx, opts, *logLevel, storage, *replicas)
		if err != nil {
			return err
		}
		figures.add(res, peak)
	}
	name := fmt.Sprintf("scale %dx%d%s: ", *agencies, *bets, backendTag(*postgres, *replicas))
	if *rate > 0 {
		name = fmt.Sprintf("scale %dx%d%s @%.0f/s: ", *agencies, *bets, backendTag(*postgres, *replicas), *rate)
	}
	figures.print(name, *runs)
	return nil
}

// scaleRun starts replicas centrals, over a fresh database of storage
// where it is set (one central over a fresh file store otherwise), drives
// the agencies of opts against them, and returns what they measured and
// the largest peak memory of a central.
func scaleRun(ctx context.Context, opts loadgen.ScaleOptions, logLevel string, storage func() (string, error), replicas int) (loadgen.ScaleResult, int64, error) {
	env := append(opts.TLS.ServerEnv(), "AGENCIES_AMOUNT="+strconv.Itoa(opts.Agencies), "LOGGING_LEVEL="+logLevel,
		"SERVER_MAX_CONNECTIONS="+strconv.Itoa(opts.Agencies+64))
	if storage != nil {
		url, err := storage()
		if err != nil {
			return loadgen.ScaleResult{}, 0, err
		}
		env = append(env, "STORAGE_URL="+url)
	}
	dir, err := os.MkdirTemp("", "lottery-scale-")
	if err != nil {
		return loadgen.ScaleResult{}, 0, err
	}
	defer os.RemoveAll(dir)
	servers, addrs, err := startCentrals(ctx, dir, replicas, opts, env)
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	if err != nil {
		return loadgen.ScaleResult{}, 0, err
	}
	res, err := loadgen.Scale(ctx, strings.Join(addrs, ","), opts)
	var peak int64
	for _, s := range servers {
		p, rerr := s.PeakRSS() // before it stops: /proc forgets a process once it exits
		err = errors.Join(err, rerr)
		peak = max(peak, p)
	}
	for _, s := range servers {
		err = errors.Join(err, s.Stop())
	}
	servers = nil
	if err != nil {
		return loadgen.ScaleResult{}, 0, err
	}
	return res, peak, nil
}

// startCentrals starts n centrals with env, each in a directory of its
// own under dir.
func startCentrals(ctx context.Context, dir string, n int, opts loadgen.ScaleOptions, env []string) ([]*loadgen.Server, []string, error) {
	probe, err := opts.TLS.Probe()
	if err != nil {
		return nil, nil, err
	}
	var servers []*loadgen.Server
	var addrs []string
	for i := range n {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return servers, nil, err
		}
		srv, err := loadgen.StartServer(ctx, filepath.Join(binDir(), "server"), sub, probe, env...)
		if err != nil {
			return servers, nil, err
		}
		servers, addrs = append(servers, srv), append(addrs, srv.Addr)
	}
	return servers, addrs, nil
}

// storageOf returns where a run keeps its bets: a fresh database of a
// throwaway PostgreSQL cluster per run with postgres (and the cluster's
// close), nil for the file store.
func storageOf(postgres bool) (func() (string, error), func() error, error) {
	if !postgres {
		return nil, func() error { return nil }, nil
	}
	dbs, err := loadgen.StartDatabases()
	if err != nil {
		return nil, nil, err
	}
	return dbs.New, dbs.Close, nil
}

// backendName names the backend in the figures' header.
func backendName(postgres bool) string {
	if postgres {
		return "PostgreSQL (synchronous_commit on)"
	}
	return "bets.csv (fsync)"
}

// backendTag marks the figures of the PostgreSQL backend.
func backendTag(postgres bool, replicas int) string {
	if !postgres {
		return ""
	}
	return fmt.Sprintf(" pg x%d", replicas)
}

// scaleFigures are the figures of every scale run, in milliseconds but
// for the throughput (bets/s) and the peak memory (MiB).
type scaleFigures struct {
	thr, p50, p99, pmax, draw, rss, welcomed, rate, winners []float64
}

func (f *scaleFigures) add(res loadgen.ScaleResult, peak int64) {
	f.thr = append(f.thr, res.Throughput)
	f.p50 = append(f.p50, loadgen.Millis(res.AckP50))
	f.p99 = append(f.p99, loadgen.Millis(res.AckP99))
	f.pmax = append(f.pmax, loadgen.Millis(res.AckMax))
	f.draw = append(f.draw, loadgen.Millis(res.Draw))
	f.rss = append(f.rss, float64(peak)/(1<<20))
	f.welcomed = append(f.welcomed, loadgen.Millis(res.Welcomed))
	f.rate = append(f.rate, res.WelcomeRate)
	f.winners = append(f.winners, loadgen.Millis(res.Winners))
}

// print prints one line a figure: the median of the runs, min and max.
func (f *scaleFigures) print(name string, runs int) {
	fmt.Println(loadgen.Summarize(f.thr).Line(name+"ingest", "bets/s", runs))
	fmt.Println(loadgen.Summarize(f.p50).Line(name+"ack latency p50", "ms", runs))
	fmt.Println(loadgen.Summarize(f.p99).Line(name+"ack latency p99", "ms", runs))
	fmt.Println(loadgen.Summarize(f.pmax).Line(name+"ack latency max", "ms", runs))
	fmt.Println(loadgen.Summarize(f.draw).Line(name+"last done -> last winners", "ms", runs))
	fmt.Println(loadgen.Summarize(f.rss).Line(name+"central peak RSS", "MiB", runs))
	fmt.Println(loadgen.Summarize(f.welcomed).Line(name+"start -> all welcomed", "ms", runs))
	fmt.Println(loadgen.Summarize(f.rate).Line(name+"welcomes (handshakes)", "/s", runs))
	fmt.Println(loadgen.Summarize(f.winners).Line(name+"start -> last winners", "ms", runs))
}

// transport names the runs' transport in the figures' header.
func transport(withTLS bool) string {
	if withTLS {
		return "mutual TLS 1.3"
	}
	return "plaintext"
}
