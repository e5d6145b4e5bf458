package server

import (
	"strconv"
	"time"

	"github.com/htlog/htlog/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	submissions *prometheus.CounterVec
	receipts    prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, backlog func() int, mergeLag func() float64) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_server_requests_total", Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "htlog_server_request_seconds", Help: "Request latency by endpoint (add-event includes waiting for the cosigned checkpoint).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"endpoint"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_server_submissions_total", Help: "Submissions by kind, outcome and submitting organisation (registered orgs only; '-' when the submission was refused before its submitter was known)."}, []string{"kind", "outcome", "submitter"}),
		receipts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "htlog_server_receipts_total", Help: "Receipts (tlog-proofs) returned synchronously."}),
	}
	if reg != nil {
		info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_build_info", Help: "Build information.", ConstLabels: prometheus.Labels{"version": buildinfo.Version()}})
		info.Set(1)
		reg.MustRegister(m.requests, m.latency, m.submissions, m.receipts, info)
		if backlog != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "htlog_server_backlog", Help: "Submissions in flight on this replica (max_backlog bounds it)."},
				func() float64 { return float64(backlog()) }))
		}
		if mergeLag != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "htlog_server_merge_lag_seconds",
				Help: "How long the oldest event this replica acknowledged has waited to be integrated; over half max_merge_delay, submissions get 503."},
				mergeLag))
		}
	}
	return m
}

func (m *metrics) request(endpoint string, code int, d time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
}

func (m *metrics) submission(kind, outcome, org string) {
	m.submissions.WithLabelValues(kind, outcome, org).Inc()
}

func (m *metrics) receiptReturned() { m.receipts.Inc() }
