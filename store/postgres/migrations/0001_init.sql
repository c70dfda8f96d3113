-- The first schema of the server's store (PostgreSQL). Ids are raw bytes (16 for
-- traces, 8 for spans), times Unix nanoseconds (0: unknown).

-- Each distinct OTLP resource once; spans point at it by its hash.
CREATE TABLE resources (
  id   BYTEA PRIMARY KEY, -- the first 16 bytes of the SHA-256 of data
  data BYTEA NOT NULL
);

-- Spans, unique per trace and span id, so a retried export is stored once.
CREATE TABLE spans (
  trace_id  BYTEA NOT NULL,
  span_id   BYTEA NOT NULL,
  parent_id BYTEA,
  start_ns  BIGINT NOT NULL,
  end_ns    BIGINT NOT NULL,
  resource  BYTEA NOT NULL,
  data      BYTEA NOT NULL
);
CREATE UNIQUE INDEX spans_id ON spans (trace_id, span_id);

-- One row per trace: assembly state (gen counts batches that brought new
-- spans; analysed_gen is the gen the latest analysis saw), the claim lease,
-- and the summary of the latest analysis for lists.
CREATE TABLE traces (
  trace_id        BYTEA PRIMARY KEY,
  service         TEXT NOT NULL DEFAULT '',
  agent           TEXT NOT NULL DEFAULT '',
  started_ns      BIGINT NOT NULL DEFAULT 0,
  ended_ns        BIGINT NOT NULL DEFAULT 0,
  received_ns     BIGINT NOT NULL,
  root_ended      BOOLEAN NOT NULL DEFAULT false,
  spans           BIGINT NOT NULL DEFAULT 0,
  gen             BIGINT NOT NULL DEFAULT 0,
  analysed_gen    BIGINT NOT NULL DEFAULT 0,
  lease_token     TEXT,
  lease_until_ns  BIGINT NOT NULL DEFAULT 0,
  verdict         TEXT, -- NULL until analysed; 'error' when it could not be
  root_cause_step BIGINT,
  steps           BIGINT NOT NULL DEFAULT 0,
  detectors       TEXT NOT NULL DEFAULT '', -- sorted, comma-separated
  analysed_ns     BIGINT NOT NULL DEFAULT 0,
  revision        BIGINT NOT NULL DEFAULT 0
);
-- Traces with spans not yet analysed, oldest activity first: what claims scan.
CREATE INDEX traces_ready ON traces (received_ns) WHERE gen > analysed_gen;
CREATE INDEX traces_received ON traces (received_ns);
CREATE INDEX traces_started ON traces (started_ns, trace_id);
CREATE INDEX traces_verdict ON traces (verdict, started_ns, trace_id);
CREATE INDEX traces_service ON traces (service, started_ns, trace_id);
CREATE INDEX traces_agent ON traces (agent, started_ns, trace_id);

-- Which detectors found something in each trace, for the detector filter.
CREATE TABLE trace_detectors (
  detector   TEXT NOT NULL,
  started_ns BIGINT NOT NULL,
  trace_id   BYTEA NOT NULL,
  PRIMARY KEY (detector, started_ns, trace_id)
);
CREATE INDEX trace_detectors_trace ON trace_detectors (trace_id);

-- The latest analysis of each trace: exactly the analyze --format json object.
CREATE TABLE analyses (
  trace_id    BYTEA PRIMARY KEY,
  revision    BIGINT NOT NULL,
  analysed_ns BIGINT NOT NULL,
  report      BYTEA,
  error       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE feedback (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  trace_id   BYTEA NOT NULL,
  label      TEXT NOT NULL,
  step       BIGINT,
  note       TEXT NOT NULL DEFAULT '',
  created_ns BIGINT NOT NULL
);
CREATE INDEX feedback_trace ON feedback (trace_id, id);

-- Monitors: their state (opaque to the store), their alerts, and the
-- outbox webhook deliveries are sent from, so an alert survives a restart.
CREATE TABLE monitors (
  id         TEXT PRIMARY KEY,
  state      BYTEA NOT NULL,
  updated_ns BIGINT NOT NULL
);
CREATE TABLE alerts (
  id          TEXT PRIMARY KEY,
  monitor_id  TEXT NOT NULL,
  state       TEXT NOT NULL, -- firing | resolved
  started_ns  BIGINT NOT NULL,
  resolved_ns BIGINT NOT NULL DEFAULT 0,
  updated_ns  BIGINT NOT NULL,
  payload     BYTEA NOT NULL
);
CREATE INDEX alerts_state ON alerts (state, started_ns);
CREATE INDEX alerts_started ON alerts (started_ns);
-- One row per (alert, receiver, event): a transition is delivered once to
-- each receiver, retried with backoff until delivered_ns is set.
CREATE TABLE outbox (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_id        TEXT NOT NULL,
  receiver        TEXT NOT NULL,
  event           TEXT NOT NULL, -- firing | resolved
  payload         BYTEA NOT NULL,
  attempts        BIGINT NOT NULL DEFAULT 0,
  next_attempt_ns BIGINT NOT NULL,
  last_error      TEXT NOT NULL DEFAULT '',
  created_ns      BIGINT NOT NULL,
  delivered_ns    BIGINT NOT NULL DEFAULT 0,
  UNIQUE (alert_id, receiver, event)
);
CREATE INDEX outbox_due ON outbox (next_attempt_ns) WHERE delivered_ns = 0;

-- Singleton locks are PostgreSQL advisory locks: no table.

-- Eval run files pushed to the server, whole, for the UI. Guard budgets and
-- approvals, and eval runs reported as they go, come as later migrations.
CREATE TABLE eval_runs (
  id          TEXT PRIMARY KEY,
  suite       TEXT NOT NULL,
  started_ns  BIGINT NOT NULL,
  received_ns BIGINT NOT NULL,
  trials      BIGINT NOT NULL,
  data        BYTEA NOT NULL
);
CREATE INDEX eval_runs_received ON eval_runs (received_ns);
