package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/loteria-nacional/quiniela/internal/atomicfile"
)

// writeFile writes data to dir/name with mode, atomically (see
// atomicfile.Write): a key is never readable by others, not even for a
// moment, and unless replace an existing dir/name is never replaced.
func writeFile(dir, name string, data []byte, mode fs.FileMode, replace bool) error {
	return atomicfile.Write(filepath.Join(dir, name), data, mode, replace)
}

// write writes p's key, then its certificate. replace says the pair is
// there and is being issued again (Force); otherwise an existing file is
// never replaced.
func (m *maker) write(p pair, cert *x509.Certificate, key *ecdsa.PrivateKey, replace bool) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(m.dir, p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), keyMode, replace); err != nil {
		return err
	}
	if err := writeFile(m.dir, p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), certMode, replace); err != nil {
		return err
	}
	m.record(p, cert, true)
	return nil
}

// pemBlock is the DER of the one PEM block of type typ in data.
func pemBlock(data []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block %q", typ)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("a PEM block %q, want %q", block.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("more than one PEM block, want one %q", typ)
	}
	return block.Bytes, nil
}
