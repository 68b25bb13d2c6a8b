package deploy

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// generate runs ./generar-compose.sh OUTPUT N [CERTDIR] and fails the
// test if it fails.
func generate(t *testing.T, output, n string, certdir ...string) {
	t.Helper()
	cmd := exec.Command("./generar-compose.sh", append([]string{output, n}, certdir...)...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("./generar-compose.sh %s %s %s: %v\n%s", output, n, strings.Join(certdir, " "), err, out)
	}
}

// composeFile is the part of a compose file the tests read.
type composeFile struct {
	Version  string
	Name     *string
	Services map[string]struct {
		ContainerName string `yaml:"container_name"`
		Image         string
		Environment   []string
		Volumes       []string
		Networks      []string
		Ports         []string
		Expose        []string
		Restart       string
		ReadOnly      bool     `yaml:"read_only"`
		CapDrop       []string `yaml:"cap_drop"`
		SecurityOpt   []string `yaml:"security_opt"`
		User          string
		Healthcheck   *struct {
			Test     []string
			Interval string
			Timeout  string
			Retries  int
		}
		DependsOn map[string]struct{ Condition string } `yaml:"depends_on"`
	}
	Networks map[string]any
	Volumes  map[string]any
}

// TestGenerarCompose checks the committed docker-compose-dev.yaml against a
// fresh one, the shape of what generar-compose.sh writes, and that it
// writes nothing for bad arguments.
func TestGenerarCompose(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("generar-compose.sh needs bash")
	}
	dir := t.TempDir()

	t.Run("committed file is current", func(t *testing.T) {
		out := filepath.Join(dir, "dev.yaml")
		generate(t, out, "5")
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose-dev.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("./generar-compose.sh OUTPUT 5 differs from docker-compose-dev.yaml: regenerate it with\n" +
				"\t./generar-compose.sh docker-compose-dev.yaml 5")
		}
		generate(t, out, "5")
		again, _ := os.ReadFile(out)
		if !bytes.Equal(got, again) {
			t.Error("two runs of ./generar-compose.sh OUTPUT 5 differ")
		}
	})

	t.Run("committed TLS file is current", func(t *testing.T) {
		out := filepath.Join(dir, "tls.yaml")
		generate(t, out, "5", "certs-deploy")
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose-tls.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("./generar-compose.sh OUTPUT 5 certs-deploy differs from docker-compose-tls.yaml: regenerate it with\n" +
				"\t./generar-compose.sh docker-compose-tls.yaml 5 certs-deploy")
		}
		checkShape(t, out, 5, "./certs-deploy")
	})

	for _, n := range []int{0, 1, 3, 12} {
		t.Run("shape N="+strconv.Itoa(n), func(t *testing.T) {
			out := filepath.Join(dir, "compose-"+strconv.Itoa(n)+".yaml")
			generate(t, out, strconv.Itoa(n))
			checkShape(t, out, n, "")
		})
		t.Run("TLS shape N="+strconv.Itoa(n), func(t *testing.T) {
			out := filepath.Join(dir, "compose-tls-"+strconv.Itoa(n)+".yaml")
			generate(t, out, strconv.Itoa(n), "my-certs/")
			checkShape(t, out, n, "./my-certs")
			generate(t, out, strconv.Itoa(n), "/srv/lottery/certs")
			checkShape(t, out, n, "/srv/lottery/certs")
		})
	}

	// The central refuses AGENCIES_AMOUNT=0, so OUT 0 must not write it.
	t.Run("N=0 writes no AGENCIES_AMOUNT", func(t *testing.T) {
		out := filepath.Join(dir, "compose-zero.yaml")
		generate(t, out, "0")
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("AGENCIES_AMOUNT=")) {
			t.Errorf("./generar-compose.sh OUT 0 sets AGENCIES_AMOUNT:\n%s", raw)
		}
	})

	t.Run("leading zeros are decimal", func(t *testing.T) {
		out := filepath.Join(dir, "compose-08.yaml")
		generate(t, out, "08")
		checkShape(t, out, 8, "")
	})

	// The course's invocation is plaintext whatever certificates exist:
	// TLS only when CERTDIR is given.
	t.Run("no CERTDIR is plaintext, with certificates beside it", func(t *testing.T) {
		sub := t.TempDir()
		for _, d := range []string{"certs", "certs-deploy"} {
			if err := os.MkdirAll(filepath.Join(sub, d), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, d, "ca.crt"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(sub, "docker-compose.yaml")
		cmd := exec.Command(filepath.Join(repoRoot, "generar-compose.sh"), out, "2")
		cmd.Dir = sub
		cmd.Env = append(os.Environ(), "CERTS_DIR=certs-deploy")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		checkShape(t, out, 2, "")
	})

	bad := [][]string{
		{},
		{"OUT"},
		{"OUT", ""},
		{"OUT", "-1"},
		{"OUT", "abc"},
		{"OUT", "1.5"},
		{"OUT", "3x"},
		{"OUT", " 3"},
		{"OUT", "+3"},
		{"OUT", "65536"},
		{"OUT", "99999999999999999999999"},
		{"OUT", "3", ""},
		{"OUT", "3", "my certs"},
		{"OUT", "3", "certs:rw"},
		{"OUT", "3", "certs\n"},
		{"OUT", "3", "certs", "extra"},
		{"", "3"},
	}
	for _, args := range bad {
		t.Run("bad args "+strconv.Quote(strings.Join(args, " ")), func(t *testing.T) {
			sub := t.TempDir()
			missing := filepath.Join(sub, "out.yaml")
			existing := filepath.Join(sub, "existing.yaml")
			if err := os.WriteFile(existing, []byte("keep me\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// OUTPUT is a file that does not exist, then one that does.
			for _, output := range []string{missing, existing} {
				args := slices.Clone(args)
				for i, a := range args {
					if a == "OUT" {
						args[i] = output
					}
				}
				cmd := exec.Command("./generar-compose.sh", args...)
				cmd.Dir = repoRoot
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 {
					t.Fatalf("exit %v, want status 2; stderr: %s", err, stderr.String())
				}
				if !strings.HasPrefix(stderr.String(), "usage: ") || strings.Count(stderr.String(), "\n") != 1 {
					t.Errorf("stderr %q, want one usage line", stderr.String())
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout %q, want nothing", stdout.String())
				}
			}
			if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bad arguments wrote the output file (stat: %v)", err)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep me\n" {
				t.Errorf("bad arguments changed an existing output file: %q", b)
			}
		})
	}
}

// checkShape checks a generated compose file for n agencies, with mutual
// TLS from certdir as the file names it ("./my-certs", "/abs"), or
// plaintext where certdir is "".
// adminPort is the central's admin port in the generated compose file
// (SERVER_ADMIN_ADDRESS=0.0.0.0:9090, exposed, not published), and
// winnersIn where agency I's named volume "winners-I" is mounted.
const (
	adminPort = "9090"
	winnersIn = "/app/winners"
)

// winnersVolume is agency i's named volume of winners in the generated
// compose files, which no other agency mounts.
func winnersVolume(i int) string { return "winners-" + strconv.Itoa(i) }

func checkShape(t *testing.T, path string, n int, certdir string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(raw, &top); err != nil {
		t.Fatalf("%s is not YAML: %v", path, err)
	}
	if _, ok := top["name"]; ok {
		t.Error("top-level name: docker-compose v1.29 refuses it")
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !strings.HasPrefix(f.Version, "2.") {
		t.Errorf("version %q: want a 2.x format, the one with depends_on conditions in docker-compose v1", f.Version)
	}
	if len(f.Networks) != 1 {
		t.Errorf("networks %v, want one private network", f.Networks)
	}
	if len(f.Services) != n+1 {
		t.Errorf("%d services, want the server and %d agencies", len(f.Services), n)
	}

	srv, ok := f.Services["server"]
	if !ok {
		t.Fatal("no service server")
	}
	if srv.ContainerName != "server" || srv.Image != "server:latest" {
		t.Errorf("server: container_name %q image %q", srv.ContainerName, srv.Image)
	}
	// The admin endpoint on every address of the container, exposed to the
	// network and never published (no ports: below).
	wantEnv := []string{"STORAGE_FILEPATH=/app/storage/bets.csv", "SERVER_ADMIN_ADDRESS=0.0.0.0:" + adminPort}
	// The central refuses AGENCIES_AMOUNT=0: with no agency, the file
	// leaves it to config.ini.
	if n > 0 {
		wantEnv = append([]string{"AGENCIES_AMOUNT=" + strconv.Itoa(n)}, wantEnv...)
	}
	// The store is on the service's anonymous volume: it survives a restart
	// of the container, not a down.
	wantVolumes := []string{"./server/config.ini:/app/config.ini:ro", "/app/storage"}
	if certdir != "" {
		wantEnv = append(wantEnv,
			"SERVER_TLS_CERT="+certsIn+"/central.crt",
			"SERVER_TLS_KEY="+certsIn+"/central.key",
			"SERVER_TLS_CLIENT_CA="+certsIn+"/ca.crt",
			"SERVER_TLS_REVOKED="+certsIn+"/revocation/revoked",
			"SERVER_TLS_PROBE_CERT="+certsIn+"/probe.crt",
			"SERVER_TLS_PROBE_KEY="+certsIn+"/probe.key")
		// Never ca.key: the central gets its own key and the probe's.
		for _, f := range []string{"ca.crt", "central.crt", "central.key", "probe.crt", "probe.key"} {
			wantVolumes = append(wantVolumes, certdir+"/"+f+":"+certsIn+"/"+f+":ro")
		}
		// The revocation list's directory, not the file alone: a list
		// replaced on the host reaches the running central.
		wantVolumes = append(wantVolumes, certdir+"/revocation:"+certsIn+"/revocation:ro")
	}
	if !slices.Equal(srv.Environment, wantEnv) {
		t.Errorf("server environment %v, want %v", srv.Environment, wantEnv)
	}
	if !slices.Equal(srv.Volumes, wantVolumes) {
		t.Errorf("server volumes %v, want %v", srv.Volumes, wantVolumes)
	}
	if !slices.Equal(srv.Expose, []string{adminPort}) {
		t.Errorf("server expose %v, want [%s] (the admin endpoint, inside the network)", srv.Expose, adminPort)
	}
	// The agencies' winners files: one named volume per agency, winners-I,
	// and no other (no volume shared by two agencies).
	wantTop := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		wantTop = append(wantTop, winnersVolume(i))
	}
	if got := slices.Sorted(maps.Keys(f.Volumes)); !slices.Equal(got, slices.Sorted(slices.Values(wantTop))) {
		t.Errorf("top-level volumes %v, want %v: one per agency", got, wantTop)
	}
	if srv.Restart != "on-failure" {
		t.Errorf("server restart %q, want on-failure", srv.Restart)
	}
	hc := srv.Healthcheck
	if hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/server", "healthcheck"}) ||
		hc.Interval != "1s" || hc.Timeout != "2s" || hc.Retries < 10 {
		t.Errorf("server healthcheck %+v, want CMD /server healthcheck every 1s, timeout 2s", hc)
	}

	for name, s := range f.Services {
		// Least privilege: the images' non-root user (not overridden), a
		// read-only root, no capability, no gaining privileges.
		if !s.ReadOnly {
			t.Errorf("%s: read_only is not true", name)
		}
		if !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: cap_drop %v, want [ALL]", name, s.CapDrop)
		}
		if !slices.Equal(s.SecurityOpt, []string{"no-new-privileges:true"}) {
			t.Errorf("%s: security_opt %v, want [no-new-privileges:true]", name, s.SecurityOpt)
		}
		if s.User != "" {
			t.Errorf("%s: user %q overrides the image's non-root user", name, s.User)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports %v: none may be", name, s.Ports)
		}
		if len(s.Networks) != 1 {
			t.Errorf("%s networks %v, want the one private network", name, s.Networks)
		} else if _, ok := f.Networks[s.Networks[0]]; !ok {
			t.Errorf("%s is on network %s, which the file does not define", name, s.Networks[0])
		}
	}

	for i := 1; i <= n; i++ {
		name := "client" + strconv.Itoa(i)
		c, ok := f.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if c.ContainerName != name || c.Image != "client:latest" {
			t.Errorf("%s: container_name %q image %q", name, c.ContainerName, c.Image)
		}
		file := "agency-" + strconv.Itoa(i) + ".csv"
		wantEnv := []string{"CLI_ID=" + strconv.Itoa(i), "CLI_WINNERS_FILE=" + winnersIn + "/agency-" + strconv.Itoa(i) + ".txt"}
		want := []string{"./client/config.yaml:/app/config.yaml:ro", "./.data/" + file + ":/app/.data/" + file + ":ro",
			winnersVolume(i) + ":" + winnersIn}
		if certdir != "" {
			// Agency i's own certificate and key, and no other.
			crt, key := "agency-"+strconv.Itoa(i)+".crt", "agency-"+strconv.Itoa(i)+".key"
			wantEnv = append(wantEnv, "CLI_TLS_CA="+certsIn+"/ca.crt", "CLI_TLS_CERT="+certsIn+"/"+crt, "CLI_TLS_KEY="+certsIn+"/"+key)
			for _, f := range []string{"ca.crt", crt, key} {
				want = append(want, certdir+"/"+f+":"+certsIn+"/"+f+":ro")
			}
		}
		if !slices.Equal(c.Environment, wantEnv) {
			t.Errorf("%s environment %v, want %v", name, c.Environment, wantEnv)
		}
		if !slices.Equal(c.Volumes, want) {
			t.Errorf("%s volumes %v, want %v", name, c.Volumes, want)
		}
		if dep, ok := c.DependsOn["server"]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("%s depends_on %v, want server: condition: service_healthy", name, c.DependsOn)
		}
	}
}
