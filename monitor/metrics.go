package monitor

import (
	"runtime"

	"github.com/htlog/htlog/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the monitor's Prometheus metrics, registered with the prefix
// htlog_monitor_ on the registry given to NewMetrics.
type Metrics struct {
	entries         prometheus.Counter
	treeSize        prometheus.Gauge
	rate            prometheus.Gauge
	position        prometheus.Gauge
	eta             prometheus.Gauge
	promises        *prometheus.CounterVec
	promisesPending prometheus.Gauge
	checkpoints     *prometheus.CounterVec
	findings        *prometheus.CounterVec
	triage          *prometheus.CounterVec
	splitViews      prometheus.Counter
	errors          *prometheus.CounterVec
	lastRound       prometheus.Gauge
}

// NewMetrics creates and registers the monitor's metrics, build_info included.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		entries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "htlog_monitor_entries_total", Help: "Entries replayed and verified.",
		}),
		treeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_tree_size", Help: "Size of the latest checkpoint the replay confirmed.",
		}),
		rate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_replay_entries_per_second", Help: "Replay speed of the last round.",
		}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_replay_position", Help: "Entries replayed and committed, including a catch-up in progress.",
		}),
		eta: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_replay_eta_seconds", Help: "Estimated time until a catch-up in progress reaches the log's checkpoint; 0 when caught up.",
		}),
		promises: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_monitor_promises_total", Help: "Inclusion promises received, and settled by outcome (honoured, broken, unjudged).",
		}, []string{"status"}),
		promisesPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_promises_pending", Help: "Inclusion promises not yet settled.",
		}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_monitor_checkpoints_total", Help: "New checkpoints recorded, by source.",
		}, []string{"source"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_monitor_findings_total", Help: "Findings recorded, by rule.",
		}, []string{"rule"}),
		splitViews: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "htlog_monitor_split_views_total", Help: "Split-view evidence bundles recorded.",
		}),
		triage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_monitor_triage_total", Help: "Findings moved by a regulator, by the state moved to.",
		}, []string{"state"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_monitor_errors_total", Help: "Failed operations (log or witness unreachable, store errors), by operation.",
		}, []string{"op"}),
		lastRound: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "htlog_monitor_last_round_timestamp_seconds", Help: "When the last successful follow round ended.",
		}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "htlog_monitor_build_info", Help: "Build information; always 1.",
	}, []string{"version", "goversion"})
	info.WithLabelValues(buildinfo.Version(), runtime.Version()).Set(1)
	reg.MustRegister(m.entries, m.treeSize, m.rate, m.position, m.eta, m.promises, m.promisesPending, m.checkpoints, m.findings, m.triage, m.splitViews, m.errors, m.lastRound, info)
	return m
}
