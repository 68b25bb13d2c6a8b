package e2e

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/harness"
)

// TestHealthcheckConfiguredAddress runs the central on a SERVER_IP that is
// not a wildcard, as the course's config.ini has it (SERVER_IP = server),
// and then `server healthcheck` with the same configuration and working
// directory, as Compose's healthcheck does: it must dial where the
// central listens, and exit 0. With the central stopped it must exit 1
// with one line that names the address it dialed.
func TestHealthcheckConfiguredAddress(t *testing.T) {
	cases := []struct {
		name string
		host func(t *testing.T) string
	}{
		{"host name", hostNameOfThisMachine},
		{"non-loopback IP", nonLoopbackIP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.host(t)
			_, port, err := net.SplitHostPort(harness.MustFreeAddr(t))
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"SERVER_IP": host, "SERVER_PORT": port, "AGENCIES_AMOUNT": "1"}
			srv := startServer(t, env)
			want := net.JoinHostPort(host, port)

			check := startProcess(t, "healthcheck", serverBin, srv.Dir, env, "healthcheck")
			if code := check.WaitExit(t, exitTimeout); code != 0 {
				t.Errorf("healthcheck of a central listening on %s (SERVER_IP=%s) exited %d, want 0; stderr: %s",
					srv.Addr, host, code, check.Stderr())
			}

			srv.Stop(t)
			check = startProcess(t, "healthcheck", serverBin, srv.Dir, env, "healthcheck")
			if code := check.WaitExit(t, exitTimeout); code != 1 {
				t.Errorf("healthcheck of a stopped central exited %d, want 1", code)
			}
			stderr := strings.TrimRight(check.Stderr(), "\n")
			if strings.Contains(stderr, "\n") || !strings.Contains(stderr, want) {
				t.Errorf("healthcheck stderr is %q, want one line naming the dialed address %s", stderr, want)
			}
		})
	}
}

// hostNameOfThisMachine returns a host name that resolves to an address
// of this machine, preferring one that is not a loopback address (the
// case Compose's service names make): the machine's own name, or a name
// that one of its addresses resolves back to; else localhost. It skips
// the test when no name resolves.
func hostNameOfThisMachine(t *testing.T) string {
	t.Helper()
	var candidates []string
	if name, err := os.Hostname(); err == nil {
		candidates = append(candidates, name)
	}
	for _, ip := range localIPs(t) {
		if names, err := net.LookupAddr(ip.String()); err == nil {
			for _, n := range names {
				candidates = append(candidates, strings.TrimSuffix(n, "."))
			}
		}
	}
	local := make(map[string]bool)
	for _, ip := range localIPs(t) {
		local[ip.String()] = true
	}
	for _, name := range candidates {
		addrs, err := net.LookupHost(name)
		if err != nil || len(addrs) == 0 {
			continue
		}
		// The central listens on the first address the name resolves to,
		// which must be one of this machine's.
		if ip := net.ParseIP(addrs[0]); ip != nil && !ip.IsLoopback() && local[ip.String()] {
			t.Logf("SERVER_IP=%s resolves to %v", name, addrs)
			return name
		}
	}
	if addrs, err := net.LookupHost("localhost"); err == nil && len(addrs) > 0 {
		t.Logf("no host name resolves to a non-loopback address of this machine (tried %v); using localhost (%v)",
			candidates, addrs)
		return "localhost"
	}
	t.Skipf("no host name resolves to an address of this machine (tried %v and localhost)", candidates)
	return ""
}

// nonLoopbackIP returns an IPv4 address of this machine that is not a
// loopback address, skipping the test when it has none.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	for _, ip := range localIPs(t) {
		if !ip.IsLoopback() && ip.To4() != nil {
			return ip.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address")
	return ""
}

// localIPs returns this machine's unicast addresses, link-local ones
// excepted (they need a zone to be dialed).
func localIPs(t *testing.T) []net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("cannot list this machine's addresses: %v", err)
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() && !n.IP.IsMulticast() {
			ips = append(ips, n.IP)
		}
	}
	return ips
}
