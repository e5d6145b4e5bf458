package witness

import (
	"github.com/htlog/htlog/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the witness's Prometheus metrics, registered on the registry
// given to NewMetrics with the prefix htlog_witness_.
type Metrics struct {
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	logSize    *prometheus.GaugeVec
	logUpdated *prometheus.GaugeVec
	evidence   *prometheus.CounterVec
	pulls      *prometheus.CounterVec
}

// NewMetrics creates and registers the witness's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_witness_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "htlog_witness_request_seconds", Help: "Request latency by endpoint, including the durable write.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"endpoint"}),
		logSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "htlog_witness_log_size", Help: "Size of the latest cosigned checkpoint per log.",
		}, []string{"origin"}),
		logUpdated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "htlog_witness_log_updated_timestamp_seconds", Help: "When the latest checkpoint per log was cosigned.",
		}, []string{"origin"}),
		evidence: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_witness_split_views_total", Help: "Split-view evidence bundles recorded per log.",
		}, []string{"origin"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "htlog_witness_pulls_total", Help: "Pull-mode fetches by log and outcome.",
		}, []string{"origin", "outcome"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "htlog_witness_build_info", Help: "Build information.", ConstLabels: prometheus.Labels{"version": buildinfo.Version()},
	})
	info.Set(1)
	reg.MustRegister(m.requests, m.latency, m.logSize, m.logUpdated, m.evidence, m.pulls, info)
	return m
}
