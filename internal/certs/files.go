package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
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

// readPrivateKey reads the key file at path, refusing one that group or others
// may read (keyMode is 0600; 0400 is as good): whoever could read it
// could sign as its holder, and Make would go on signing with it, or
// handing it out, without a word. The mode is read from the open file, so
// the file checked is the file read.
func readPrivateKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o, readable by group or others: a private key must be its owner's alone; "+
			"chmod 600 %s (and, if it may have been copied, issue it anew)", path, perm, path)
	}
	return io.ReadAll(f)
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
