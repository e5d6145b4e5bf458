package checkpoint

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the publisher's Prometheus metrics (prefix htlog_server_).
type Metrics struct {
	size         prometheus.Gauge
	publishedAt  prometheus.Gauge
	cosigners    prometheus.Gauge
	duration     prometheus.Histogram
	phase        *prometheus.HistogramVec
	unverified   prometheus.Gauge
	unfed        prometheus.Gauge
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
			Help:    "Time spent in each phase of a publishing round: integrate, trillian, consistency, cosign, store.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"phase"}),
		unverified: prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_trillian_unverified_leaves",
			Help: "Leaves htlog has integrated whose place in Trillian's tree is not yet checked (Trillian's signer is behind)."}),
		unfed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_trillian_unfed_leaves",
			Help: "Leaves htlog has integrated that are not yet stored in Trillian."}),
		witnessLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "htlog_server_witness_seconds", Help: "add-checkpoint latency per witness.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 13)}, []string{"witness"}),
		witnessFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_server_witness_failures_total", Help: "Witness requests that did not yield a valid cosignature."}, []string{"witness"}),
		quorumFails:  prometheus.NewCounter(prometheus.CounterOpts{Name: "htlog_server_quorum_failures_total", Help: "Rounds in which the witness policy was not met."}),
		unpublished:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_server_unpublished_leaves", Help: "Leaves appended that are not yet in a published checkpoint."}),
	}
	reg.MustRegister(m.size, m.publishedAt, m.cosigners, m.duration, m.phase, m.unverified, m.unfed, m.witnessLat, m.witnessFails, m.quorumFails, m.unpublished)
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

// trillian records how far Trillian's copy is behind htlog's integrated tree.
func (m *Metrics) trillian(integrated, fed, verified uint64) {
	if m == nil {
		return
	}
	m.unfed.Set(float64(integrated - min(fed, integrated)))
	m.unverified.Set(float64(integrated - min(verified, integrated)))
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

func (m *Metrics) backlog(appended, published uint64) {
	if m != nil && appended >= published {
		m.unpublished.Set(float64(appended - published))
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
