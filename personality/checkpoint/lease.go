package checkpoint

import (
	"context"
	"database/sql"
	"time"
)

// Run publishes every interval while this process holds the publisher lease:
// a MariaDB named lock (GET_LOCK) held on one connection, so exactly one
// replica publishes and another takes over within an interval or so of the
// holder's connection dying. Between rounds it integrates new leaves every
// IntegrateInterval(interval), so that a round finds them already integrated
// and a receipt waits for little more than the next tick; meanwhile it feeds
// Trillian (and takes in what a legacy tree sequences) at the same pace. It
// returns when ctx is done.
func (p *Publisher) Run(ctx context.Context, db *sql.DB, interval time.Duration) {
	lock := "htlog_publisher:" + p.cfg.Signer.Name()
	if len(lock) > 64 {
		lock = lock[:64]
	}
	publish := time.NewTicker(interval)
	defer publish.Stop()
	integrate := time.NewTicker(IntegrateInterval(interval))
	defer integrate.Stop()
	var conn *sql.Conn
	stopFollow := func() {}
	defer func() {
		stopFollow()
		if conn != nil {
			conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", lock)
			conn.Close()
		}
	}()
	for {
		if conn == nil {
			if conn = p.acquire(ctx, db, lock); conn != nil {
				fctx, cancel := context.WithCancel(ctx)
				stopFollow = cancel
				go p.follow(fctx, IntegrateInterval(interval))
			}
		} else if err := conn.PingContext(ctx); err != nil {
			p.cfg.Logger.Warn("lost the publisher lease", "err", err)
			stopFollow()
			p.forgetFed()
			conn.Close()
			conn = nil
		}
		if conn != nil {
			if _, err := p.PublishOnce(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("couldn't publish a checkpoint", "err", err)
			}
		}
		if !p.integrateUntil(ctx, conn != nil, publish.C, integrate.C) {
			return
		}
	}
}

// integrateUntil integrates on every tick of integrate (if holding is set)
// until publish ticks; it reports false when ctx is done.
func (p *Publisher) integrateUntil(ctx context.Context, holding bool, publish, integrate <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-publish:
			return true
		case <-integrate:
			if !holding {
				continue
			}
			if _, _, err := p.IntegrateOnce(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("couldn't integrate new leaves", "err", err)
			}
		}
	}
}

// follow feeds Trillian and takes in the legacy tree's leaves every
// interval until ctx ends.
func (p *Publisher) follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.FeedOnce(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("couldn't feed Trillian", "err", err)
		}
		if _, err := p.ImportLegacyOnce(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("couldn't take in the legacy tree's leaves", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// IntegrateInterval is how often Run integrates between publishing rounds of
// the given interval: a fifth of it, at most 200ms and at least 10ms.
func IntegrateInterval(publish time.Duration) time.Duration {
	return max(min(publish/5, 200*time.Millisecond), 10*time.Millisecond)
}

func (p *Publisher) acquire(ctx context.Context, db *sql.DB, lock string) *sql.Conn {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lock).Scan(&got); err != nil || got.Int64 != 1 {
		conn.Close()
		return nil
	}
	p.cfg.Logger.Info("holding the publisher lease", "lock", lock)
	return conn
}
