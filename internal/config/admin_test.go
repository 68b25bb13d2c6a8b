package config

import "testing"

// TestAdminListenAddress: an admin address that names no host listens
// on loopback; one that names a host, wildcards included, listens there.
func TestAdminListenAddress(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{":9090", "127.0.0.1:9090"},
		{":0", "127.0.0.1:0"},
		{"127.0.0.1:9090", "127.0.0.1:9090"},
		{"0.0.0.0:9090", "0.0.0.0:9090"},
		{"[::]:9090", "[::]:9090"},
		{"server:9090", "server:9090"},
		{"", ""},
	} {
		c := DefaultServer()
		c.AdminAddress = tc.set
		if got := c.AdminListenAddress(); got != tc.want {
			t.Errorf("SERVER_ADMIN_ADDRESS=%q listens on %q, want %q", tc.set, got, tc.want)
		}
	}
}
