// Command winnersprobe is what TestComposeWinnersPrivate runs inside a
// container that has one agency's mounts (docker run --volumes-from), in
// an image FROM scratch that holds nothing else: the client image has no
// shell, so the test needs a program of its own to try what an intruder
// in that container would try. It runs each step its arguments name and
// prints one JSON object a line per step, what it did and what came of it;
// a step that fails is a result to print, not an error of the probe.
//
//	winnersprobe find NAME        every path of the file system called NAME
//	winnersprobe read PATH        PATH's content
//	winnersprobe write PATH TEXT  PATH replaced by (or created with) TEXT
//	winnersprobe stat PATH        PATH's mode and owner
//
// Steps follow one another: `find agency-2.txt read /a write /b x`. It
// exits 2 on arguments it does not understand, else 0.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// result is one step's line: ok with what it found, or the error.
type result struct {
	Op    string   `json:"op"`
	Path  string   `json:"path"`
	OK    bool     `json:"ok"`
	Data  string   `json:"data,omitempty"`
	Found []string `json:"found,omitempty"`
	Mode  string   `json:"mode,omitempty"`
	UID   int      `json:"uid,omitempty"`
	Err   string   `json:"err,omitempty"`
}

// arity is how many arguments each step takes after its name.
var arity = map[string]int{"find": 1, "read": 1, "write": 2, "stat": 1}

func main() {
	args := os.Args[1:]
	enc := json.NewEncoder(os.Stdout)
	for len(args) > 0 {
		n, ok := arity[args[0]]
		if !ok || len(args) < n+1 {
			fmt.Fprintf(os.Stderr, "winnersprobe: bad step %q\n", args)
			os.Exit(2)
		}
		r := step(args[0], args[1:n+1])
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "winnersprobe:", err)
			os.Exit(1)
		}
		args = args[n+1:]
	}
}

// step runs one step and says what came of it.
func step(op string, args []string) result {
	r := result{Op: op, Path: args[0]}
	var err error
	switch op {
	case "find":
		r.Found, err = find(args[0])
	case "read":
		var b []byte
		b, err = os.ReadFile(args[0])
		r.Data = string(b)
	case "write":
		err = os.WriteFile(args[0], []byte(args[1]), 0o600)
	case "stat":
		var info fs.FileInfo
		if info, err = os.Stat(args[0]); err == nil {
			r.Mode = fmt.Sprintf("%04o", info.Mode().Perm())
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				r.UID = int(st.Uid)
			}
		}
	}
	r.OK = err == nil
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// find walks the whole file system but the kernel's (/proc, /sys, /dev)
// and lists every path whose last element is name, readable or not; a
// directory it may not enter is skipped, as an intruder would have to.
func find(name string) ([]string, error) {
	var found []string
	err := filepath.WalkDir("/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() && (p == "/proc" || p == "/sys" || p == "/dev") {
			return fs.SkipDir
		}
		if d.Name() == name {
			found = append(found, p)
		}
		return nil
	})
	return found, err
}
