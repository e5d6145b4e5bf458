package monitor

import (
	"context"
	"errors"

	"github.com/htlog/htlog/monitor/tlogclient"
)

// PollWitnesses reads each witness's latest checkpoint of the log and
// observes it. Unreachable witnesses are logged and skipped.
func (m *Monitor) PollWitnesses(ctx context.Context) {
	for _, w := range m.cfg.Witnesses {
		signed, err := m.client.WitnessCheckpoint(ctx, w, m.origin)
		if err != nil {
			m.m.errors.WithLabelValues("fetch_witness").Inc()
			m.log.Debug("couldn't read a witness's checkpoint", "witness", w, "err", err)
			continue
		}
		if _, _, _, err := m.Observe(ctx, signed, "witness "+w); err != nil {
			m.log.Warn("a witness serves a checkpoint that does not verify", "witness", w, "err", err)
		}
	}
}

// Gossip pushes the latest confirmed checkpoint to every peer's /pollinate.
// A peer answering 409 holds an inconsistent checkpoint: it will have
// evidence, and we will see it when it pollinates us or a witness serves it.
func (m *Monitor) Gossip(ctx context.Context) {
	conf := m.Confirmed()
	if conf == nil {
		return
	}
	for _, p := range m.cfg.Peers {
		err := m.client.Pollinate(ctx, p, conf.Bytes)
		switch {
		case errors.Is(err, tlogclient.ErrSplitView):
			m.log.Error("a peer reports a split view", "peer", p, "size", conf.Size)
		case err != nil:
			m.m.errors.WithLabelValues("pollinate").Inc()
			m.log.Debug("couldn't pollinate a peer", "peer", p, "err", err)
		}
	}
}
