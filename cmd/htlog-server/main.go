// Command htlog-server runs the htlog log personality: it accepts signed
// healthcare events, queues them in Trillian, publishes witness-cosigned
// C2SP checkpoints and serves the tlog-tiles read API, proofs and lookups.
//
//	htlog-server --config server.yaml
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad
// configuration.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/htlog/htlog/internal/admission"

	"github.com/google/trillian"
	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/trilliantree"
	"github.com/htlog/htlog/personality/batch"
	"github.com/htlog/htlog/personality/checkpoint"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/server"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/schemas"
)

func main() { daemon.Exec(run) }

// run is the daemon: main runs it, and so do the tests.
var run = daemon.Command("htlog-server", defaults, serve)

func serve(ctx context.Context, cfg *Config, logger *slog.Logger, db *sql.DB) error {
	conn, err := dialTrillian(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	trees, err := trilliantree.Provision(pctx, db, trillian.NewTrillianAdminClient(conn), trillian.NewTrillianLogClient(conn), cfg.Origin)
	cancel()
	if err != nil {
		return fmt.Errorf("couldn't provision the Trillian tree (is trillian_log_server running at %s?): %w", cfg.Trillian.Address, err)
	}
	log, err := logbackend.NewTrillian(ctx, conn, trees.ID)
	if err != nil {
		return err
	}
	var legacy logbackend.Reader
	if trees.Legacy != 0 {
		if legacy, err = logbackend.NewLegacy(ctx, conn, trees.Legacy); err != nil {
			return fmt.Errorf("the legacy tree: %w", err)
		}
	}
	store, err := tiles.Open(ctx, db)
	if err != nil {
		return err
	}
	signer, err := c2sp.NewLogSigner(cfg.logKey)
	if err != nil {
		return err
	}
	vkey, err := c2sp.VKeyFromSKey(cfg.logKey)
	if err != nil {
		return err
	}
	verifier, err := c2sp.NewLogVerifier(vkey)
	if err != nil {
		return err
	}
	serverTLS, witnessClient, err := cfg.TLSConfigs(logger, 0)
	if err != nil {
		return err
	}
	reg := daemon.NewRegistry()

	bg, stopBg := context.WithCancel(context.Background())
	defer stopBg()
	var sub *submit.Submitter
	var submitters func() *registry.Registry
	if !cfg.ReadOnly {
		watch, err := registry.NewWatcher(cfg.SubmittersFile)
		if err != nil {
			return fmt.Errorf("submitters_file: %w", err)
		}
		go reloadEvery(ctx, watch, 5*time.Second, logger)
		submitters = watch.Current
		validator, err := schemas.NewValidator()
		if err != nil {
			return err
		}
		checker, err := admission.New(admission.Config{Registry: watch.Current, Validator: validator,
			MaxAhead: cfg.Admission.MaxAhead, MaxBehind: cfg.Admission.MaxBehind, URLPrefixes: cfg.Admission.URLPrefixes})
		if err != nil {
			return err
		}
		batcher := batch.New(store, 0)
		go batcher.Run(bg)
		sub = submit.New(submit.Config{Admission: checker, Trials: store, Logged: store.LoggedEntry, Sequence: batcher,
			PerSubmitter: cfg.RateLimit.PerSubmitter, Burst: cfg.RateLimit.Burst, MaxBacklog: cfg.MaxBacklog})
	}
	pub, err := checkpoint.New(checkpoint.Config{Signer: signer, Verifier: verifier, Log: log, Legacy: legacy, Store: store,
		Policy: cfg.policy, WitnessTimeout: cfg.WitnessTimeout, FailOpen: cfg.FailOpen,
		// An idle log re-publishes well within max_checkpoint_age, so /healthz
		// only fails when publishing really stalls.
		Republish:  cfg.MaxCheckpointAge / 3,
		HTTPClient: witnessClient, Logger: logger, Metrics: checkpoint.NewMetrics(reg)})
	if err != nil {
		return err
	}
	srv := server.New(server.Config{Submitter: sub, Store: store, Verifier: verifier, Signer: signer, Submitters: submitters, MaxMergeDelay: cfg.MaxMergeDelay, ReceiptTimeout: cfg.ReceiptTimeout,
		MaxCheckpointAge: cfg.MaxCheckpointAge, Logger: logger, Registry: reg})

	go pub.Run(bg, db, cfg.CheckpointInterval)
	go srv.Run(bg)

	// In-flight requests may finish (the batcher runs until Listen
	// returns): an acknowledged event's batch is committed, so nothing
	// acknowledged is lost.
	return daemon.Listen(ctx, logger, "htlog-server", cfg.Listen, srv.Handler(), serverTLS, cfg.ReceiptTimeout+30*time.Second, cfg.ReceiptTimeout+5*time.Second,
		"origin", cfg.Origin, "tree_id", trees.ID, "legacy_tree_id", trees.Legacy, "read_only", cfg.ReadOnly)
}

func reloadEvery(ctx context.Context, w *registry.Watcher, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.Reload(); err != nil {
				logger.Error("couldn't reload the submitter registry; the previous one stays in force", "err", err)
			}
		}
	}
}
