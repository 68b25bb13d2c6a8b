package loadgen

import (
	"crypto/tls"
	"path/filepath"

	"github.com/loteria-nacional/quiniela/internal/certs"
	"github.com/loteria-nacional/quiniela/internal/config"
	"github.com/loteria-nacional/quiniela/internal/mtls"
)

// TLS is the mutual TLS of a benchmark run: the certificates certs.Make
// wrote into Dir for the central, the probe and agencies 1..N.
type TLS struct{ Dir string }

// MakeTLS makes the certificates of a lottery of agencies in dir.
func MakeTLS(dir string, agencies int) (*TLS, error) {
	if _, err := certs.Make(certs.Options{Dir: dir, Agencies: agencies}); err != nil {
		return nil, err
	}
	return &TLS{Dir: dir}, nil
}

func (t *TLS) file(name string) string { return filepath.Join(t.Dir, name) }

// ServerEnv is the central's environment for mutual TLS.
func (t *TLS) ServerEnv() []string {
	if t == nil {
		return nil
	}
	return []string{
		"SERVER_TLS_CERT=" + t.file(certs.CentralCert), "SERVER_TLS_KEY=" + t.file(certs.CentralKey),
		"SERVER_TLS_CLIENT_CA=" + t.file(certs.CACert),
	}
}

// ClientEnv is agency id's environment for mutual TLS.
func (t *TLS) ClientEnv(id int) []string {
	if t == nil {
		return nil
	}
	return []string{"CLI_TLS_CA=" + t.file(certs.CACert), "CLI_TLS_CERT=" + t.file(certs.AgencyCert(id)), "CLI_TLS_KEY=" + t.file(certs.AgencyKey(id))}
}

// SetClient sets agency id's configuration for mutual TLS.
func (t *TLS) SetClient(cfg *config.Client, id int) {
	if t != nil {
		cfg.TLSCA, cfg.TLSCert, cfg.TLSKey = t.file(certs.CACert), t.file(certs.AgencyCert(id)), t.file(certs.AgencyKey(id))
	}
}

// Probe is the health check's configuration: the probe's certificate.
// Nil (plaintext) for a nil TLS.
func (t *TLS) Probe() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	return mtls.Client(t.file(certs.CACert), t.file(certs.ProbeCert), t.file(certs.ProbeKey), "127.0.0.1")
}

// Agency is agency id's configuration of mutual TLS, as its client makes
// it: a flood replays the ClientHello it sends.
func (t *TLS) Agency(id int) (*tls.Config, error) {
	return mtls.Client(t.file(certs.CACert), t.file(certs.AgencyCert(id)), t.file(certs.AgencyKey(id)), "127.0.0.1")
}
