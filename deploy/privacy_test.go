package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// probeImage is the image of deploy/testdata/winnersprobe, FROM scratch:
// the client image has no shell, so the test brings its own program to
// look around a container that has an agency's mounts.
const probeImage = "quiniela-winnersprobe:test"

// probeResult is one line of winnersprobe's output.
type probeResult struct {
	Op, Path, Data, Mode, Err string
	OK                        bool
	Found                     []string
	UID                       int
}

// buildProbeImage builds probeImage offline: winnersprobe as a static
// binary (CGO_ENABLED=0), copied into an image FROM scratch that runs as
// the images' user. The image is removed when the test ends.
func buildProbeImage(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if out, err := run(repoRoot, buildTimeout, "env", "CGO_ENABLED=0", "go", "build",
		"-o", filepath.Join(dir, "winnersprobe"), "./deploy/testdata/winnersprobe"); err != nil {
		t.Fatalf("building winnersprobe: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY winnersprobe /winnersprobe\nUSER " + imageUser + "\nENTRYPOINT [\"/winnersprobe\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dir, buildTimeout, "docker", "build", "-t", probeImage, "."); err != nil {
		t.Fatalf("docker build %s: %v\n%s", probeImage, err, out)
	}
	t.Cleanup(func() {
		if out, err := run("", cmdTimeout, "docker", "image", "rm", "--force", probeImage); err != nil {
			t.Errorf("removing %s: %v\n%s", probeImage, err, out)
		}
	})
}

// probeAs runs winnersprobe's steps in a one-off container with exactly
// the mounts of container name (--volumes-from: its volumes and bind
// mounts, read-write where they are), as the images' user, with the
// deployment's least privilege and no network, and returns its lines.
func (d *deployment) probeAs(name string, steps ...string) []probeResult {
	d.t.Helper()
	args := append([]string{"run", "--rm", "--volumes-from", name, "--network", "none",
		"--label", "com.docker.compose.project=" + d.project,
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
		probeImage}, steps...)
	out, err := run("", cmdTimeout, "docker", args...)
	if err != nil {
		d.t.Fatalf("winnersprobe with the mounts of %s: %v\n%s", name, err, out)
	}
	var results []probeResult
	for _, line := range nonEmptyLines(out) {
		var r probeResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			d.t.Fatalf("winnersprobe: %q: %v", line, err)
		}
		results = append(results, r)
	}
	return results
}

// copyOut returns the content of a file in a container (exited or not),
// with docker cp, as root on the host.
func (d *deployment) copyOut(container, file string) string {
	d.t.Helper()
	dst := filepath.Join(d.t.TempDir(), filepath.Base(file))
	if out, err := run("", cmdTimeout, "docker", "cp", container+":"+file, dst); err != nil {
		d.t.Fatalf("docker cp %s:%s: %v\n%s", container, file, err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(b)
}

// winnersMount returns the volume a container has at winnersIn.
func winnersMount(t *testing.T, name string) string {
	t.Helper()
	for _, m := range inspectConfig(t, name).Mounts {
		if m.Destination == winnersIn {
			if m.Type != "volume" || !m.RW {
				t.Errorf("%s: %s is a %s mount, RW %v; want a writable volume", name, winnersIn, m.Type, m.RW)
			}
			return m.Name
		}
	}
	t.Fatalf("%s: nothing mounted at %s", name, winnersIn)
	return ""
}

// TestComposeWinnersPrivate runs the mutual TLS deployment of
// make docker-compose-up with 2 agencies (winners 2 and 1), then, in a
// container with exactly agency 1's mounts and user (winnersprobe, run
// with --volumes-from client1), tries what an intruder in agency 1's
// container would: find agency 2's winners file anywhere in the file
// system, read it at its path, and write that path. It finds nothing,
// reads nothing, and agency 2's file (docker cp from client2) is as agency
// 2 wrote it; the same probe reads agency 1's own file, mode 0600 and
// owned by the agency's user, so a file it could reach would be seen.
func TestComposeWinnersPrivate(t *testing.T) {
	d := newTLSDeployment(t, 2)
	d.genData("-agencies", "2", "-bets", "400,300", "-winners", "2,1", "-seed", "13")
	clients := clientNames(2)
	d.up()
	if !exitedZero(t, "", clients...) {
		t.FailNow()
	}
	byName := d.composeLogs()
	assertWinners(t, byName, []int{2, 1})
	assertWinnersFiles(t, d, byName, []int{2, 1})

	v1, v2 := winnersMount(t, "client1"), winnersMount(t, "client2")
	if v1 == v2 {
		t.Errorf("client1 and client2 share the volume %s at %s, want one each", v1, winnersIn)
	}
	own, other := winnersIn+"/agency-1.txt", winnersIn+"/agency-2.txt"
	before := d.copyOut("client2", other)
	buildProbeImage(t)
	got := d.probeAs("client1", "find", "agency-2.txt", "read", other, "write", other, "forged\n",
		"read", own, "stat", own)
	if len(got) != 5 {
		t.Fatalf("winnersprobe printed %d results, want 5: %+v", len(got), got)
	}
	t.Logf("as agency 1: %+v", got)
	if find := got[0]; !find.OK || len(find.Found) != 0 {
		t.Errorf("agency 1's container finds agency 2's winners file: %v (walk error %q)", find.Found, find.Err)
	}
	if read := got[1]; read.OK {
		t.Errorf("agency 1's container reads %s: %q", other, read.Data)
	}
	if after := d.copyOut("client2", other); after != before {
		t.Errorf("after agency 1's container wrote %s, agency 2's file holds %q, want %q as agency 2 wrote it", other, after, before)
	}
	if read := got[3]; !read.OK || len(nonEmptyLines(read.Data)) != 2 {
		t.Errorf("the probe, as agency 1, reads its own %s: %+v; want 2 winners (else it proves nothing)", own, read)
	}
	if st := got[4]; !st.OK || st.Mode != "0600" || strconv.Itoa(st.UID) != strings.Split(imageUser, ":")[0] {
		t.Errorf("%s: %+v, want mode 0600, owned by %s", own, st, imageUser)
	}
	if got := d.probeAs("client2", "find", "agency-2.txt"); len(got) != 1 || !slices.Contains(got[0].Found, other) {
		t.Errorf("as agency 2: %+v, want %s found: else the probe's find is blind", got, other)
	}
}
