package client

import (
	"errors"
	"fmt"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// keepBets is how many bets the count pass keeps in memory for the
// upload, so that a small file (the course's hold 1,000 to 20,000) is
// read and parsed once: about 80 bytes a bet beside the file's text,
// which the bets share, a few MB at most. A larger file is read again.
const keepBets = 1 << 15

// count reads the agency's bets once before its first connection, as the
// first pass of its run: it checks that the data file opens and that its
// first bet reads (what no reconnection can fix), and counts and hashes
// all of them, for the Declare that tells the central the agency's total
// up front (protocol version 3); it keeps the bets of a small file
// (keepBets) for the upload. A bad row past the first leaves the total
// undeclared (nil) and is found, where it stands, by the upload as
// before. A source of WithSource is not read twice: it declares nothing.
func (a *Agency) count() (*protocol.Declare, error) {
	if a.bets != nil {
		return nil, nil
	}
	all, closer, err := a.source(false)
	if err != nil {
		return nil, err
	}
	defer a.closeSource(closer)
	d := newDigester(a.cfg.ID)
	var kept [][]lottery.Bet
	for bet, err := range all {
		if err != nil {
			if d.n == 0 {
				return nil, err // the first bet, or why it does not read
			}
			return nil, nil
		}
		d.add(bet)
		kept = keep(kept, bet, d.n)
	}
	a.kept = kept
	return &protocol.Declare{Total: d.n, Digest: d.sum()}, nil
}

// keepBlock is how many bets one block of the kept bets holds: blocks
// of a fixed size are filled in place, where one slice would be copied
// each time it grew, pointers and all.
const keepBlock = 4096

// keep adds bet, the agency's nth, to the blocks kept, or drops them all
// once n passes keepBets.
func keep(kept [][]lottery.Bet, bet lottery.Bet, n uint64) [][]lottery.Bet {
	if n > keepBets {
		return nil
	}
	if len(kept) == 0 || len(kept[len(kept)-1]) == keepBlock {
		kept = append(kept, make([]lottery.Bet, 0, keepBlock))
	}
	last := &kept[len(kept)-1]
	*last = append(*last, bet)
	return kept
}

// declare sends the agency's Declare, where it has one and the
// connection's version has the message; it has no answer.
func (a *Agency) declare(c *link) error {
	if a.declared == nil || !protocol.Has(a.version, protocol.TypeDeclare) {
		return nil
	}
	if err := c.send(*a.declared); err != nil {
		return err
	}
	a.log.Debug("declaracion", logging.Success, "agencia", a.cfg.ID, "apuestas", a.declared.Total, "digest", a.declared.Digest.String())
	return nil
}

// downgrade reports whether err is a central's refusal of the agency's
// protocol version that an older version may get past: the agency then
// speaks protocol.MinVersion from its next connection on, which a central
// of that version serves as before (no Declare, no Waiting). A central
// that refuses MinVersion too, or an agency already speaking it, is
// refused for good.
func (a *Agency) downgrade(err error) bool {
	var perr *protocol.Error
	if !errors.As(err, &perr) || perr.Code != protocol.CodeVersion || a.version == protocol.MinVersion {
		return false
	}
	a.log.Warn("version", logging.InProgress, "agencia", a.cfg.ID, "version", protocol.MinVersion,
		"nota", fmt.Sprintf("the central does not speak protocol %d (%s): speaking %d, without the totals and the waiting counts", a.version, perr.Message, protocol.MinVersion))
	a.version = protocol.MinVersion
	return true
}
