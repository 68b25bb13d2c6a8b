package app

import (
	"github.com/loteria-nacional/quiniela/internal/admin"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/netguard"
)

// checkFileLimit refuses a start whose file limit cannot hold
// SERVER_MAX_CONNECTIONS, the admin endpoint's connections and the
// central's own files (netguard.CheckFileLimit), before anything opens,
// and logs the limit it found.
func (m *Main) checkFileLimit() error {
	get := m.FileLimit
	if get == nil {
		get = netguard.FileLimit
	}
	need := netguard.Need{Connections: m.cfg.MaxConnections, Own: netguard.OwnFiles}
	if m.cfg.AdminAddress != "" {
		need.Admin = admin.DefaultLimits().MaxConnections
	}
	lim, err := netguard.CheckFileLimit(get, need)
	if err != nil {
		return err
	}
	m.log.Info("file_limit", logging.Success, "soft", lim.Soft, "hard", lim.Hard, "need", need.Total())
	return nil
}
