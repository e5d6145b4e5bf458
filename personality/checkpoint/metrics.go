package checkpoint

import (
	"time"

	"github.com/htlog/htlog/personality/logbackend"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the publisher's Prometheus metrics (prefix htlog_server_).
type Metrics struct {
	size         prometheus.Gauge
	publishedAt  prometheus.Gauge
	cosigners    prometheus.Gauge
	duration     prometheus.Histogram
	phase        *prometheus.HistogramVec
	integration  prometheus.Histogram
	witnessLat   *prometheus.HistogramVec
	witnessFails *prometheus.CounterVec
	quorumFails  prometheus.Counter
	unpublished  prometheus.Gauge
}

// NewMetrics registers the publisher's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		size:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_checkpoint_size", Help: "Size of the latest published checkpoint."}),
		publishedAt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_checkpoint_timestamp_seconds", Help: "When the latest checkpoint was published; checkpoint age = now - this."}),
		cosigners:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_checkpoint_cosigners", Help: "Witnesses that cosigned the latest published checkpoint."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "htlog_server_publish_seconds", Help: "Integrate, sign and cosign one checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "htlog_server_publish_phase_seconds",
			Help:    "Time spent in each phase of a publishing round: root, integrate, consistency, cosign, store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"phase"}),
		integration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "htlog_server_integration_delay_seconds",
			Help:    "Per leaf, from Trillian queueing it to htlog integrating it into its tiles (the wait for sequencing plus for the integration tick).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		witnessLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "htlog_server_witness_seconds", Help: "add-checkpoint latency per witness.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 13)}, []string{"witness"}),
		witnessFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_server_witness_failures_total", Help: "Witness requests that did not yield a valid cosignature."}, []string{"witness"}),
		quorumFails:  prometheus.NewCounter(prometheus.CounterOpts{Name: "htlog_server_quorum_failures_total", Help: "Rounds in which the witness policy was not met."}),
		unpublished:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_unpublished_leaves", Help: "Leaves Trillian has sequenced that are not yet in a published checkpoint (integration backlog)."}),
	}
	reg.MustRegister(m.size, m.publishedAt, m.cosigners, m.duration, m.phase, m.integration, m.witnessLat, m.witnessFails, m.quorumFails, m.unpublished)
	return m
}

func (m *Metrics) published(size uint64, cosigners int, d time.Duration) {
	if m == nil {
		return
	}
	m.size.Set(float64(size))
	m.publishedAt.SetToCurrentTime()
	m.cosigners.Set(float64(cosigners))
	m.duration.Observe(d.Seconds())
}

func (m *Metrics) integrated(leaves []logbackend.Leaf, now time.Time) {
	if m == nil {
		return
	}
	for _, l := range leaves {
		if !l.Queued.IsZero() {
			m.integration.Observe(now.Sub(l.Queued).Seconds())
		}
	}
}

func (m *Metrics) witnessed(name string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.witnessLat.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		m.witnessFails.WithLabelValues(name).Inc()
	}
}

func (m *Metrics) quorumFailed() {
	if m != nil {
		m.quorumFails.Inc()
	}
}

func (m *Metrics) backlog(sequenced, published uint64) {
	if m != nil && sequenced >= published {
		m.unpublished.Set(float64(sequenced - published))
	}
}

// phaseTimer times the phases of one publishing round.
type phaseTimer struct {
	m    *Metrics
	last time.Time
}

func (m *Metrics) startPhases() *phaseTimer { return &phaseTimer{m: m, last: time.Now()} }

// done records the time since the previous phase ended as phase name.
func (t *phaseTimer) done(name string) {
	now := time.Now()
	if t.m != nil {
		t.m.phase.WithLabelValues(name).Observe(now.Sub(t.last).Seconds())
	}
	t.last = now
}
