package server

import "github.com/prometheus/client_golang/prometheus"

// metrics are the server's Prometheus metrics, registered on the registry
// the caller passes in.
type metrics struct {
	requests       *prometheus.CounterVec // transport, outcome
	spansReceived  *prometheus.CounterVec // transport
	spansRejected  prometheus.Counter
	spansStored    prometheus.Counter
	spansDuplicate prometheus.Counter
	queueBytes     prometheus.Gauge
	writeSeconds   prometheus.Histogram
	writeSpans     prometheus.Histogram
	analysed       *prometheus.CounterVec // verdict
	analyseSeconds prometheus.Histogram
	claimErrors    prometheus.Counter
	deleted        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "probity_ingest_requests_total",
			Help: "OTLP export requests by transport (http, grpc, push) and outcome (ok, partial, invalid, overloaded, unavailable, unauthorized)."}, []string{"transport", "outcome"}),
		spansReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "probity_spans_received_total",
			Help: "Spans received and accepted for storage, by transport."}, []string{"transport"}),
		spansRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "probity_spans_rejected_total",
			Help: "Spans rejected as malformed (OTLP partial success)."}),
		spansStored: prometheus.NewCounter(prometheus.CounterOpts{Name: "probity_spans_stored_total",
			Help: "Spans durably stored for the first time."}),
		spansDuplicate: prometheus.NewCounter(prometheus.CounterOpts{Name: "probity_spans_duplicate_total",
			Help: "Spans received again (retried exports) and stored once."}),
		queueBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "probity_ingest_inflight_bytes",
			Help: "Bytes of export requests read and not yet durable (bounded by the ingest budget)."}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "probity_store_write_seconds",
			Help: "Time of one store transaction writing spans.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		writeSpans: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "probity_store_write_spans",
			Help: "Spans per store transaction (group commit).", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		analysed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "probity_traces_analysed_total",
			Help: "Trace analyses saved, by verdict (ok, suspect, fail, error)."}, []string{"verdict"}),
		analyseSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "probity_analysis_seconds",
			Help: "Time to load, assemble and analyse one trace.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		claimErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "probity_analysis_store_errors_total",
			Help: "Store errors while claiming, reading or saving traces for analysis."}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "probity_traces_deleted_total",
			Help: "Traces deleted by the retention sweeper."}),
	}
	reg.MustRegister(m.requests, m.spansReceived, m.spansRejected, m.spansStored, m.spansDuplicate, m.queueBytes,
		m.writeSeconds, m.writeSpans, m.analysed, m.analyseSeconds, m.claimErrors, m.deleted)
	return m
}
