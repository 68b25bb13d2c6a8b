package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loteria-nacional/quiniela/internal/logging"
)

// FailLines counts the fail lines of a log written to it, by action,
// keeping no line: a flooded central of an older release writes tens of
// thousands.
type FailLines struct {
	mu       sync.Mutex
	partial  []byte
	byAction map[string]int
}

// Write counts the fail lines that p completes.
func (f *FailLines) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			break
		}
		if l, ok := logging.Parse(string(f.partial[:i])); ok && l.Result == logging.ResultFail {
			if f.byAction == nil {
				f.byAction = map[string]int{}
			}
			f.byAction[l.Action]++
		}
		f.partial = f.partial[i+1:]
	}
	f.partial = bytes.Clone(f.partial) // let the lines counted go
	return len(p), nil
}

// ByAction returns the fail lines counted so far, by action.
func (f *FailLines) ByAction() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.byAction))
	for a, n := range f.byAction {
		out[a] = n
	}
	return out
}

// Refusals returns quiniela_refusals_total by reason, as the admin
// endpoint at addr says.
func Refusals(ctx context.Context, addr string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("refusals metric: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("refusals metric: %s", res.Status)
	}
	by := map[string]int64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		reason, isRefusal := strings.CutPrefix(name, `quiniela_refusals_total{reason="`)
		if !ok || !isRefusal {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("refusals metric %q: %w", sc.Text(), err)
		}
		by[strings.TrimSuffix(reason, `"}`)] = int64(v)
	}
	return by, sc.Err()
}

// Sum is the sum of a metric's values over its labels.
func Sum(by map[string]int64) int64 {
	var n int64
	for _, v := range by {
		n += v
	}
	return n
}

// settledRefusals reads the refusals metric at addr until it counts at
// least want (the central refuses the connections a flood opened a little
// after they were opened) or for 2 s at most: a release that does not
// count every refusal never gets there, and its last figure is returned.
func settledRefusals(ctx context.Context, addr string, want int64) (map[string]int64, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		by, err := Refusals(ctx, addr)
		if err != nil || Sum(by) >= want || time.Now().After(deadline) {
			return by, err
		}
		select {
		case <-ctx.Done():
			return by, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ListenOverflows returns the host's count of connections dropped because
// a listener's accept queue was full (TcpExt ListenOverflows of
// /proc/net/netstat): a dropped SYN costs its client a retransmission, a
// second at first. It counts every listener of the host, not only the
// central's.
func ListenOverflows() (int64, error) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == "ListenOverflows" {
				return strconv.ParseInt(values[j], 10, 64)
			}
		}
	}
	return 0, errors.New("no TcpExt ListenOverflows in /proc/net/netstat")
}
