package certs

import (
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
