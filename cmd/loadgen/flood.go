package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/loteria-nacional/quiniela/internal/loadgen"
)

// defaultFloodFor is how long a flood lasts at least: issue 19's "at
// full speed for 10 s during the course".
const defaultFloodFor = 10 * time.Second

// The target of issue 19: under the flood, the course within 1.5 times
// its time without, and at most 100 fail lines of the central.
const (
	targetRatio     = 1.5
	targetFailLines = 100
)

// floodFlags are course's -flood flags.
type floodFlags struct {
	on      bool
	lasts   time.Duration
	lead    time.Duration
	workers int
	control bool
}

// newFloodFlags defines course's -flood flags in fs.
func newFloodFlags(fs *flag.FlagSet) *floodFlags {
	var flood floodFlags
	fs.BoolVar(&flood.on, "flood", false, "a handshake flood from "+loadgen.FloodSource+" during every other run (implies -tls): runs in pairs, with and without")
	fs.DurationVar(&flood.lasts, "flood-for", defaultFloodFor, "how long a flood lasts at least (and until the course ends)")
	fs.DurationVar(&flood.lead, "flood-lead", 0, "how long a flood goes on before the agencies start (0: they start with it)")
	fs.BoolVar(&flood.control, "flood-control", false, "a third run a round: the same flood at a sink of loadgen's own, not the central (what the flood costs the host alone)")
	fs.IntVar(&flood.workers, "flood-workers", 4, "goroutines of the flood, each replaying the ClientHello as fast as it can")
	return &flood
}

// The runs of a round: without a flood, with one at the central, and
// (with -flood-control) with one at a sink of loadgen's own.
const (
	without = iota
	with
	control
)

// floodCourse runs the course in runs rounds, one run without a flood and
// one under a handshake flood (and, with ff.control, one with the flood at
// a sink instead), in an order that turns round by round, each with a
// central of its own, and prints each round and the figures.
func floodCourse(ctx context.Context, base loadgen.CourseOptions, ff *floodFlags, runs int) error {
	cfg, err := base.TLS.Agency(1)
	if err != nil {
		return err
	}
	hello, err := loadgen.ClientHello(cfg)
	if err != nil {
		return err
	}
	base.Admin = true
	fmt.Printf("flood: agency 1's ClientHello (%d bytes) replayed from %s by %d goroutines at full speed, each connection opened, written and closed; from the moment the central serves, %v before the agencies start, for %v and until the course ends\n",
		len(hello), loadgen.FloodSource, ff.workers, ff.lead, ff.lasts)
	kinds := []int{without, with}
	if ff.control {
		kinds = append(kinds, control)
		fmt.Println("control: the same flood at a sink of loadgen's own that resets each connection at accept, as the central does over budget; the central untouched")
	}
	var fig floodFigures
	for i := range runs {
		round := make([]loadgen.CourseResult, len(kinds))
		for j := range kinds {
			k := kinds[(i+j)%len(kinds)]
			opts := base
			opts.ProfileRun = i*len(kinds) + j // with -profile, each run's profiles apart
			if k != without {
				opts.Flood = &loadgen.FloodOptions{Hello: hello, Workers: ff.workers, For: ff.lasts, Lead: ff.lead, AtSink: k == control}
			}
			if round[k], err = loadgen.Course(ctx, opts); err != nil {
				return err
			}
		}
		fmt.Println(roundLine(i+1, round))
		fig.add(round)
	}
	fig.print(runs)
	return nil
}

// roundLine says what one round of runs measured.
func roundLine(n int, r []loadgen.CourseResult) string {
	line := fmt.Sprintf("round %d: without %.1f ms (fail lines %d, central CPU %.2f s, listen overflows %d); with %s",
		n, loadgen.Millis(r[without].Wall), total(r[without].FailLines), r[without].CentralCPU.Seconds(), r[without].ListenOverflows,
		floodedLine(r[with], r[without]))
	if len(r) > control {
		line += "; control " + floodedLine(r[control], r[without])
	}
	return line
}

// floodedLine says what a flooded run measured, beside the run without.
func floodedLine(r, base loadgen.CourseResult) string {
	return fmt.Sprintf("%.1f ms (x%.2f): %d connections in %.1f s, fail lines %s, refusals metric %s, central CPU %.2f s, listen overflows %d",
		loadgen.Millis(r.Wall), float64(r.Wall)/float64(base.Wall), r.Flooded, r.FloodLasted.Seconds(),
		byKey(r.FailLines), byKey(r.Refusals), r.CentralCPU.Seconds(), r.ListenOverflows)
}

// total is the sum of a count's values.
func total[V int | int64](by map[string]V) V {
	var n V
	for _, v := range by {
		n += v
	}
	return n
}

// byKey writes a count as its total and its non-zero values, by key:
// "7 (refusals=2,tls=5)".
func byKey[V int | int64](by map[string]V) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		if by[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, by[k]))
		}
	}
	return fmt.Sprintf("%d (%s)", total(by), strings.Join(parts, ","))
}

// floodFigures are the figures of every round, by kind of run.
type floodFigures struct {
	time, ratio, fails, flooded, counted, cpu [3][]float64
}

func (f *floodFigures) add(r []loadgen.CourseResult) {
	for k, res := range r {
		f.time[k] = append(f.time[k], loadgen.Millis(res.Wall))
		f.ratio[k] = append(f.ratio[k], float64(res.Wall)/float64(r[without].Wall))
		f.fails[k] = append(f.fails[k], float64(total(res.FailLines)))
		f.flooded[k] = append(f.flooded[k], float64(res.Flooded))
		f.counted[k] = append(f.counted[k], float64(total(res.Refusals)))
		f.cpu[k] = append(f.cpu[k], res.CentralCPU.Seconds())
	}
}

// print prints one line a figure, then whether issue 19's target is met.
func (f *floodFigures) print(runs int) {
	for k, kind := range []string{"without", "with", "control"} {
		if len(f.time[k]) == 0 {
			continue
		}
		name := "course flood " + kind + ": "
		fmt.Println(loadgen.Summarize(f.time[k]).Line(name+"clients -> last winners", "ms", runs))
		if k != without {
			fmt.Println(loadgen.Summarize(f.ratio[k]).Line(name+"/ without, same round", "x", runs))
			fmt.Println(loadgen.Summarize(f.flooded[k]).Line(name+"connections of the flood", "conns", runs))
		}
		fmt.Println(loadgen.Summarize(f.fails[k]).Line(name+"central fail lines", "lines", runs))
		fmt.Println(loadgen.Summarize(f.counted[k]).Line(name+"refusals metric", "count", runs))
		fmt.Println(loadgen.Summarize(f.cpu[k]).Line(name+"central CPU", "s", runs))
	}
	r := loadgen.Summarize(f.time[with]).Median / loadgen.Summarize(f.time[without]).Median
	fails := loadgen.Summarize(f.fails[with]).Max
	verdict := "met"
	if r > targetRatio || fails > targetFailLines {
		verdict = "not met"
	}
	fmt.Printf("issue 19's target (the course's median with the flood within %.1fx of its median without; at most %d fail lines in every flooded run): %s (x%.2f, at most %.0f lines)\n",
		targetRatio, targetFailLines, verdict, r, fails)
}
