// Command htlog-witness runs an htlog witness: it cosigns checkpoints of the
// logs it follows under the C2SP tlog-witness protocol, after checking each
// one is consistent with the last it cosigned; it can pull checkpoints itself,
// gossip them with peer witnesses, and keeps evidence of any split view.
//
//	htlog-witness --config witness.yaml
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad
// configuration.
package main

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/witness"
	"golang.org/x/mod/sumdb/note"
)

func main() { daemon.Exec(run) }

// run is the daemon: main runs it, and so do the tests.
var run = daemon.Command("htlog-witness", defaults, serve)

func serve(ctx context.Context, cfg *Config, logger *slog.Logger, db *sql.DB) error {
	store, err := witness.NewMySQLStore(ctx, db)
	if err != nil {
		return err
	}
	var signers []note.Signer
	for _, skey := range cfg.signers {
		s, err := c2sp.NewCosigner(skey)
		if err != nil {
			return err
		}
		signers = append(signers, s)
	}
	var logs []witness.Log
	for _, l := range cfg.logs {
		v, err := c2sp.NewLogVerifier(l.vkey)
		if err != nil {
			return err
		}
		logs = append(logs, witness.Log{Origin: l.origin, Verifier: v, URL: l.url})
	}
	reg := daemon.NewRegistry()
	w, err := witness.New(witness.Config{
		Logs: logs, Signers: signers, Store: store, Logger: logger, Metrics: witness.NewMetrics(reg),
	})
	if err != nil {
		return err
	}
	serverTLS, client, err := cfg.TLSConfigs(logger, 30*time.Second)
	if err != nil {
		return err
	}
	if cfg.PullInterval > 0 {
		go w.RunPull(ctx, client, cfg.PullInterval)
	}
	if len(cfg.Peers) > 0 {
		go w.RunGossip(ctx, client, cfg.Peers, cfg.GossipInterval)
	}
	return daemon.Listen(ctx, logger, "htlog-witness", cfg.Listen, w.Handler(reg), serverTLS, 30*time.Second, 10*time.Second,
		"witness", signers[0].Name(), "keys", len(signers), "logs", len(logs))
}
