package processor

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's Prometheus series. Create them with NewMetrics
// on the registry the HTTP server exposes.
type Metrics struct {
	Consumed    *prometheus.CounterVec   // records read, by stage
	Attempts    prometheus.Counter       // attempts produced by stage 1
	Classified  *prometheus.CounterVec   // verdicts by class and label
	DLQ         *prometheus.CounterVec   // records sent to the DLQ, by stage and reason
	DLQRepeats  *prometheus.CounterVec   // dead letters a replay did not write again, by stage
	Resets      *prometheus.CounterVec   // committed offsets a partition no longer holds, by stage and kind
	Skipped     *prometheus.CounterVec   // records that are not attempts, by reason
	Duplicates  prometheus.Counter       // events whose id was seen already
	Replays     prometheus.Counter       // events skipped because they were applied before a crash
	Decisions   *prometheus.CounterVec   // suppression records published, by status and class
	Lag         *prometheus.GaugeVec     // consumer lag by topic and partition
	BatchTime   *prometheus.HistogramVec // flush latency by stage
	StepTime    *prometheus.HistogramVec // flush latency by stage and step
	Retries     *prometheus.CounterVec   // flush retries by stage and step
	Owned       *prometheus.GaugeVec     // partitions owned by stage
	StateKeys   prometheus.Gauge         // recipients held in memory
	RestoreTime prometheus.Histogram     // seconds to restore a partition's state
	Restored    *prometheus.CounterVec   // state records restored, by where from
	Checkpoints *prometheus.CounterVec   // local checkpoints written, by result
	Fenced      *prometheus.CounterVec   // flushes abandoned because the member lost its membership
	Held        prometheus.Counter       // suppressions held by the incident guard
	Holds       prometheus.Counter       // domains the incident guard started holding
	Expiries    *prometheus.CounterVec   // expiries of suppressions, by result (sent, expired, stale)
}

// NewMetrics registers the pipeline's series on reg (nil: unregistered,
// for tests and one-shot commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Consumed:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_consumed_total", Help: "Records consumed, by stage."}, []string{"stage"}),
		Attempts:    prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_attempts_total", Help: "Canonical attempts produced by stage 1."}),
		Classified:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_classified_total", Help: "Verdicts by class and label."}, []string{"class", "label"}),
		DLQ:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_dlq_total", Help: "Records sent to the dead-letter topic, by stage and reason."}, []string{"stage", "reason"}),
		Resets:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_offset_resets_total", Help: "Times a worker found its position gone from the partition: past_end (the topic was recreated or truncated; read from its start) or retention (records deleted before they were read), by stage."}, []string{"stage", "kind"}),
		DLQRepeats:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_dlq_repeats_skipped_total", Help: "Dead letters a replay after a crash found already in the DLQ and did not write again, by stage."}, []string{"stage"}),
		Skipped:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_skipped_total", Help: "Records that are not delivery attempts, by reason."}, []string{"reason"}),
		Duplicates:  prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_duplicates_total", Help: "Events whose event_id was already applied."}),
		Replays:     prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_replayed_total", Help: "Events skipped because their offset was applied before a restart."}),
		Decisions:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_decisions_total", Help: "Suppression records published, by status and class (status lifted for tombstones)."}, []string{"status", "class"}),
		Lag:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bounced_consumer_lag", Help: "Records behind the high watermark, by topic and partition."}, []string{"topic", "partition"}),
		BatchTime:   prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bounced_flush_seconds", Help: "Time to flush one batch (outputs, changelog, commit).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"stage"}),
		StepTime:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bounced_flush_step_seconds", Help: "Time of each step of a flush (process, clickhouse, suppressions, changelog, commit, ...).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, []string{"stage", "step"}),
		Retries:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_flush_retries_total", Help: "Flush steps retried, by stage and step."}, []string{"stage", "step"}),
		Owned:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bounced_partitions_owned", Help: "Partitions this member owns, by stage."}, []string{"stage"}),
		StateKeys:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "bounced_state_recipients", Help: "Recipients whose state this member holds."}),
		RestoreTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bounced_restore_seconds", Help: "Time to restore one partition's state (kept state, local checkpoint, changelog tail).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 18)}),
		Restored:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_state_restored_total", Help: "Recipient states restored, by source: memory (kept across a rebalance), checkpoint (local file), changelog (records read from bounced.state)."}, []string{"from"}),
		Checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_state_checkpoints_total", Help: "Local state checkpoints written, by result (ok, error)."}, []string{"result"}),
		Held:        prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_guard_held_total", Help: "Suppressions the incident guard held for an operator's decision."}),
		Holds:       prometheus.NewCounter(prometheus.CounterOpts{Name: "bounced_guard_holds_total", Help: "Domains the incident guard started holding (counted once, by the owner of attempts partition 0)."}),
		Expiries:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_expiries_total", Help: "Suppression expiries (policy.expire): sent (expire commands written when expires_at passed), expired (suppressions they ended), stale (commands that found the suppression renewed, lifted or held)."}, []string{"result"}),
		Fenced:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bounced_fenced_total", Help: "Flushes abandoned because the member could not prove its group membership, by stage."}, []string{"stage"}),
	}
	if reg != nil {
		reg.MustRegister(m.Consumed, m.Attempts, m.Classified, m.DLQ, m.DLQRepeats, m.Resets, m.Skipped, m.Duplicates, m.Replays,
			m.Decisions, m.Lag, m.BatchTime, m.StepTime, m.Retries, m.Owned, m.StateKeys, m.RestoreTime, m.Restored, m.Checkpoints, m.Fenced, m.Held, m.Holds, m.Expiries)
	}
	return m
}
