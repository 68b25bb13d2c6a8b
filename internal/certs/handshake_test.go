package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHandshake checks that the files Make writes make a TLS 1.3 mutual
// handshake as they are (tls.LoadX509KeyPair), and that the central reads
// the agency's identity from the certificate it was shown. The TLS
// configuration here is the test's own, not the transport's.
func TestHandshake(t *testing.T) {
	dir := newDir(t)
	makeCerts(t, Options{Dir: dir, Agencies: 2, Now: time.Now()})
	pemCA, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCA) {
		t.Fatal("ca.crt: no certificate")
	}
	pair := func(crt, key string) tls.Certificate {
		t.Helper()
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, crt), filepath.Join(dir, key))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		crt, key string
		want     Identity
	}{
		{AgencyCert(2), AgencyKey(2), Identity{Agency: 2}},
		{ProbeCert, ProbeKey, Identity{Probe: true}},
	}
	for _, tt := range tests {
		t.Run(tt.crt, func(t *testing.T) {
			serverConn, clientConn := net.Pipe()
			defer serverConn.Close()
			defer clientConn.Close()
			server := tls.Server(serverConn, &tls.Config{
				Certificates: []tls.Certificate{pair(CentralCert, CentralKey)},
				ClientCAs:    roots, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
			})
			client := tls.Client(clientConn, &tls.Config{
				Certificates: []tls.Certificate{pair(tt.crt, tt.key)},
				RootCAs:      roots, ServerName: "server", MinVersion: tls.VersionTLS13,
			})
			done := make(chan error, 1)
			go func() { done <- client.Handshake() }()
			if err := server.Handshake(); err != nil {
				t.Fatalf("central's handshake: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("client's handshake: %v", err)
			}
			state := server.ConnectionState()
			if state.Version != tls.VersionTLS13 {
				t.Errorf("version %x, want TLS 1.3", state.Version)
			}
			id, err := IdentityOf(state.PeerCertificates[0])
			if err != nil || id != tt.want {
				t.Errorf("IdentityOf(peer) = %+v, %v; want %+v", id, err, tt.want)
			}
		})
	}
}
