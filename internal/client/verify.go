package client

import (
	"errors"
	"fmt"
	"iter"

	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// ErrVerification is returned when the bets the central holds for the
// agency are not the agency's: a digest of the central differs from the
// agency's own, or the agency has another number of bets than the central
// says. The agency has logged its verificacion fail line by then, and does
// not reconnect: the central would hold the same bets.
var ErrVerification = errors.New("the central's bets are not the agency's")

// resume yields the bets of all from number n on, the first n being the
// bets the central holds, whose digest it says is central. It hashes the
// first n bets into d, and every later one too unless countOnly (the
// upload of an agency whose count pass has its digest of all: d then
// counts them), and checks the first n against central before it yields
// anything: a mismatch, or fewer than n bets, ends the sequence with an
// ErrVerification error, logged, so that nothing more is sent.
func (a *Agency) resume(all iter.Seq2[lottery.Bet, error], d *digester, n uint64, central lottery.Digest, countOnly bool) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		checked := false
		for bet, err := range all {
			if err != nil {
				yield(lottery.Bet{}, err)
				return
			}
			if d.n < n {
				d.add(bet)
				continue
			}
			if !checked {
				if err := a.checkHeld(d, n, central); err != nil {
					yield(lottery.Bet{}, err)
					return
				}
				checked = true
			}
			if countOnly {
				d.n++
			} else {
				d.add(bet)
			}
			if !yield(bet, nil) {
				return
			}
		}
		if !checked {
			if err := a.checkHeld(d, n, central); err != nil {
				yield(lottery.Bet{}, err)
			}
		}
	}
}

// checkHeld compares the agency's bets hashed into d, all it has read so
// far, with the n bets the central holds, whose digest is central.
func (a *Agency) checkHeld(d *digester, n uint64, central lottery.Digest) error {
	own := d.sum()
	switch {
	case d.n < n:
		return a.mismatch(n, own, central, fmt.Sprintf("%s has only %d bets, the central holds %d", a.sourceName(), d.n, n))
	case own != central:
		return a.mismatch(n, own, central, a.differ(n))
	}
	a.log.Debug("verificacion", logging.InProgress, "agencia", a.cfg.ID, "apuestas", n, "digest", own.String())
	return nil
}

// verifyDone checks, for an agency the central says is done, that its
// bets are exactly the ones the central holds: a line added to the file,
// or changed, after the agency notified would not be in the draw.
func (a *Agency) verifyDone(w protocol.Welcome) error {
	d, err := a.readAll(w)
	if err != nil {
		return err
	}
	if d.n != w.Committed {
		return a.mismatch(w.Committed, d.sum(), w.Digest,
			fmt.Sprintf("%s has %d bets, the agency notified %d", a.sourceName(), d.n, w.Committed))
	}
	a.verified(d.n, w.Digest)
	return nil
}

// readAll reads all of the agency's bets, checking the first w.Committed,
// those the central holds, against the central's digest of them (resume),
// and returns them hashed and counted.
func (a *Agency) readAll(w protocol.Welcome) (*digester, error) {
	all, closer, err := a.source(false)
	if err != nil {
		return nil, err
	}
	defer a.closeSource(closer)
	d := newDigester(a.cfg.ID)
	for _, err := range a.resume(all, d, w.Committed, w.Digest, false) {
		if err != nil {
			return nil, err
		}
		// A bet past those the central holds: read on, to count them.
	}
	return d, nil
}

// checkDoneAck compares the central's answer to the agency's Done with
// the agency's total and its digest own of all its bets.
func (a *Agency) checkDoneAck(ack protocol.DoneAck, total uint64, own lottery.Digest) error {
	switch {
	case ack.Total != total:
		return a.mismatch(ack.Total, own, ack.Digest,
			fmt.Sprintf("the central holds %d bets, the agency sent %d", ack.Total, total))
	case ack.Digest != own:
		return a.mismatch(total, own, ack.Digest, a.differ(total))
	}
	a.verified(total, own)
	return nil
}

// differ is the reason of a mismatch between the agency's digest of its
// first n bets and the central's.
func (a *Agency) differ(n uint64) string {
	if n == 0 {
		return "the central holds no bets, but its digest is not that of no bets"
	}
	return fmt.Sprintf("the central holds bets 0..%d that differ from %s", n-1, a.sourceName())
}

// sourceName names where the agency's bets come from, for a reason.
func (a *Agency) sourceName() string {
	switch {
	case a.bets != nil:
		return "the agency's source"
	case a.single != nil:
		return "the single bet"
	}
	return "the file"
}

// mismatch logs the one line of a failed verification and returns the
// error that ends the run. bets is the count the central gave; own is the
// agency's digest of the bets it compared.
func (a *Agency) mismatch(bets uint64, own, central lottery.Digest, reason string) error {
	a.log.Error("verificacion", logging.Fail, "agencia", a.cfg.ID, "apuestas", bets,
		"digest_agencia", own.String(), "digest_central", central.String(), "error", reason)
	return fmt.Errorf("%w: %s", ErrVerification, reason)
}

// verified logs that the central holds exactly the agency's bets.
func (a *Agency) verified(bets uint64, digest lottery.Digest) {
	a.log.Info("verificacion", logging.Success, "agencia", a.cfg.ID, "apuestas", bets, "digest", digest.String())
}

// digester counts the agency's bets as they are read and keeps their
// digest (lottery.Hasher), under the agency's id: the central stores the
// bets of a connection under its Hello's agency, whatever their Agency
// field says. Its memory does not grow with the bets.
type digester struct {
	agency int
	h      *lottery.Hasher
	n      uint64 // bets hashed
}

func newDigester(agency int) *digester {
	return &digester{agency: agency, h: lottery.NewHasher()}
}

// add hashes the next bet.
func (d *digester) add(bet lottery.Bet) {
	d.h.Add(d.agency, bet)
	d.n++
}

// sum returns the digest of the bets hashed so far; more may be added.
func (d *digester) sum() lottery.Digest { return d.h.Sum() }
