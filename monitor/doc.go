// Package monitor watches quality rates over finished production traces and
// raises an alert when one changes: failure verdicts, each high-severity
// detector, policy denials, negative feedback, eval pass rates per suite,
// and cost or latency per run, each grouped by attributes such as
// service.name, gen_ai.agent.name, gen_ai.request.model or a prompt version.
//
// Every monitor and group is a series of 0/1 events (a cost or latency
// becomes an event when it exceeds a threshold). A series first estimates
// its baseline rate from a warm-up window, with an interval; then a
// Bernoulli CUSUM (stats.CUSUM) watches for a rise of the design shift,
// with its threshold computed (stats.CUSUMThreshold) so that the mean
// number of traces between false alarms, ARL₀, is at least the stated
// target even if the true baseline sits at the upper end of its interval.
// When the CUSUM alarms, BOCPD (stats.BOCPD) over the series' recent
// history says when the change began; the alert carries the rate before and
// after with intervals and example trace ids. An alert fires once per
// monitor and group, resolves when a second CUSUM sees the rate back at the
// baseline (or when a person resolves it), and the baseline is then
// estimated afresh.
//
// The Engine keeps no storage of its own: a Store (State and Outbox) keeps
// series checkpoints, alerts and the notifications still to deliver, so
// alerts and pending webhooks survive a restart. Notifications are rendered
// when an alert changes (the Probity JSON payload, the Alertmanager webhook
// shape or a Slack incoming-webhook message) and delivered from the outbox
// with retries and exponential backoff. docs/monitors.md documents the file
// format, the payloads and the measured detection delays.
package monitor
