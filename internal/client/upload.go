package client

import (
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/loteria-nacional/quiniela/internal/betcsv"
	"github.com/loteria-nacional/quiniela/internal/logging"
	"github.com/loteria-nacional/quiniela/internal/lottery"
	"github.com/loteria-nacional/quiniela/internal/protocol"
)

// upload checks the central's digest of the bets it holds (those before
// w.Committed) and sends the agency's bets from there on, with up to
// Window batches in flight. It returns the agency's total and its digest
// of all its bets once every batch is acknowledged.
//
// Where the count pass read the whole file (a.declared), its digest is
// the agency's digest of all its bets and the upload hashes only those
// the central says it holds: a file that changed between the two passes
// sent other bets than the declared digest's, so the central's digest at
// Done differs from it and the agency's verification fails, as it must.
func (a *Agency) upload(c *link, w protocol.Welcome) (uint64, lottery.Digest, error) {
	all, closer, err := a.source(a.declared != nil)
	if err != nil {
		return 0, lottery.Digest{}, err
	}
	defer a.closeSource(closer)
	d := newDigester(a.cfg.ID)
	bets := a.resume(all, d, w.Committed, w.Digest, a.declared != nil)

	// acks receives each batch sent; the reading side checks each Ack
	// against it.
	acks := make(chan inflight, Window)
	readErr := make(chan error, 1)
	go func() {
		readErr <- a.readAcks(c, acks)
	}()
	total, sendErr := a.sendBatches(c, bets, w.Committed, acks)
	close(acks)
	if err := <-readErr; err != nil {
		return 0, lottery.Digest{}, err // the cause: a send fails because the read side closed
	}
	if sendErr != nil {
		return 0, lottery.Digest{}, sendErr
	}
	if a.declared != nil {
		return total, a.declared.Digest, nil
	}
	return total, d.sum(), nil
}

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	end  uint64 // the count the central holds once the batch is stored
	bets int
	sent time.Time
}

// sendBatches encodes and sends batches, each as full as the batch size
// and the frame limit allow.
func (a *Agency) sendBatches(c *link, bets iter.Seq2[lottery.Bet, error], next uint64, acks chan<- inflight) (uint64, error) {
	enc := protocol.NewBatchEncoder(a.cfg.BatchMax)
	enc.Reset(next)
	flush := func() error {
		if enc.Len() == 0 {
			return nil
		}
		if a.pace != nil {
			a.pace(enc.Len())
		}
		next += uint64(enc.Len())
		acks <- inflight{end: next, bets: enc.Len(), sent: time.Now()} // blocks while Window batches are in flight
		if err := c.sendFrame(enc.Frame()); err != nil {
			return err
		}
		enc.Reset(next)
		return nil
	}
	for bet, err := range bets {
		if err != nil {
			if ferr := flush(); ferr != nil {
				return 0, ferr
			}
			return 0, err
		}
		added, err := enc.Add(bet)
		if err != nil {
			return 0, err
		}
		if !added {
			if err := flush(); err != nil {
				return 0, err
			}
			if _, err := enc.Add(bet); err != nil {
				return 0, err
			}
		}
	}
	return next, flush()
}

// readAcks reads one answer per batch sent, in order.
func (a *Agency) readAcks(c *link, acks <-chan inflight) error {
	for batch := range acks {
		want := batch.end
		msg, err := c.read()
		if err != nil {
			c.nc.Close() // stop the sender too
			for range acks {
			}
			return err
		}
		ack, ok := msg.(protocol.Ack)
		if !ok || ack.Committed < want {
			c.nc.Close()
			for range acks {
			}
			return fmt.Errorf("%w: %v (committed %d) in answer to a batch ending at %d", errProtocol, msg.Type(), ack.Committed, want)
		}
		a.observer.OnAck(batch.bets, time.Since(batch.sent))
		if a.single != nil {
			a.log.Info("apuesta_enviada", logging.Success, "dni", a.single.Document, "numero", a.single.Number)
		}
		a.log.Debug("apuestas_enviadas", logging.Success, "hasta", want)
	}
	return nil
}

// source yields all the agency's bets, from number 0: those the central
// already holds are read again, to check its digest of them. checked
// says the count pass read the whole data file without error: each bet
// is then not validated again (betcsv.OpenCheckedAgencyFile), and a
// small file is not read again at all: the bets count kept are yielded.
func (a *Agency) source(checked bool) (iter.Seq2[lottery.Bet, error], io.Closer, error) {
	if a.bets != nil {
		return a.bets(), io.NopCloser(nil), nil
	}
	if checked && a.kept != nil {
		return keptBets(a.kept), io.NopCloser(nil), nil
	}
	if a.single == nil && checked {
		return betcsv.OpenCheckedAgencyFile(a.cfg.DataFile, a.cfg.ID)
	}
	if a.single == nil {
		return betcsv.OpenAgencyFile(a.cfg.DataFile, a.cfg.ID, 0)
	}
	bet := *a.single
	bet.Agency = a.cfg.ID
	if err := lottery.Validate(bet); err != nil {
		return nil, nil, err
	}
	return func(yield func(lottery.Bet, error) bool) {
		yield(bet, nil)
	}, io.NopCloser(nil), nil
}

// keptBets yields the bets of blocks, which a pass over the data file
// read without error (see keep).
func keptBets(blocks [][]lottery.Bet) iter.Seq2[lottery.Bet, error] {
	return func(yield func(lottery.Bet, error) bool) {
		for _, block := range blocks {
			for i := range block {
				if !yield(block[i], nil) {
					return
				}
			}
		}
	}
}

// closeSource closes what source opened.
func (a *Agency) closeSource(c io.Closer) {
	c.Close()
	a.log.Debug("close", logging.Success, "resource", "data_file", "file", a.cfg.DataFile)
}
