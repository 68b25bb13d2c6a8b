package loadgen

import (
	"fmt"

	"github.com/loteria-nacional/quiniela/internal/pgtest"
)

// Databases hands out fresh databases of one throwaway PostgreSQL cluster
// (internal/pgtest): the benchmarks of the PostgreSQL backend give each
// run its own, on the same server, on this machine.
type Databases struct {
	cluster *pgtest.Cluster
	n       int
}

// StartDatabases starts the cluster.
func StartDatabases() (*Databases, error) {
	c, err := pgtest.Start()
	if err != nil {
		return nil, err
	}
	return &Databases{cluster: c}, nil
}

// New creates an empty database and returns its URL.
func (d *Databases) New() (string, error) {
	d.n++
	name := fmt.Sprintf("bench%d", d.n)
	if err := d.cluster.CreateDatabase(name); err != nil {
		return "", err
	}
	return d.cluster.URL(name), nil
}

// Close stops the cluster and removes its files.
func (d *Databases) Close() error { return d.cluster.Stop() }
