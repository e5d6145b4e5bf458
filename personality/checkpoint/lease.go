package checkpoint

import (
	"context"
	"database/sql"
	"time"
)

// Run publishes every interval while this process holds the publisher lease:
// a MariaDB named lock (GET_LOCK) held on one connection, so exactly one
// replica publishes and another takes over within an interval or so of the
// holder's connection dying. It returns when ctx is done.
func (p *Publisher) Run(ctx context.Context, db *sql.DB, interval time.Duration) {
	lock := "htlog_publisher:" + p.cfg.Signer.Name()
	if len(lock) > 64 {
		lock = lock[:64]
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", lock)
			conn.Close()
		}
	}()
	for {
		if conn == nil {
			conn = p.acquire(ctx, db, lock)
		} else if err := conn.PingContext(ctx); err != nil {
			p.cfg.Logger.Warn("lost the publisher lease", "err", err)
			conn.Close()
			conn = nil
		}
		if conn != nil {
			if _, err := p.PublishOnce(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("couldn't publish a checkpoint", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
