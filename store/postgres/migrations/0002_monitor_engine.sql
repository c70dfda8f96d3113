-- The monitor engine's state in the shape it writes (monitor.Store and
-- monitor.Inbox): series checkpoints, alerts with their evidence, the
-- notification outbox, and the queue of observations every replica writes
-- and the leader counts. The placeholder tables of 0001 had no writer.
DROP TABLE monitors;
DROP TABLE alerts;
DROP TABLE outbox;

CREATE TABLE monitor_series (
  monitor    TEXT NOT NULL,
  group_key  TEXT NOT NULL,
  data       BYTEA NOT NULL,
  updated_ns BIGINT NOT NULL,
  PRIMARY KEY (monitor, group_key)
);
CREATE TABLE monitor_alerts (
  id       TEXT PRIMARY KEY,
  monitor  TEXT NOT NULL,
  state    TEXT NOT NULL, -- firing | resolved
  fired_ns BIGINT NOT NULL,
  data     BYTEA NOT NULL   -- the monitor.Alert as JSON
);
CREATE INDEX monitor_alerts_state ON monitor_alerts (state, fired_ns);
CREATE TABLE monitor_outbox (
  id           BIGSERIAL PRIMARY KEY,
  key          TEXT NOT NULL, -- notifier and alert: one in flight per key
  notifier     TEXT NOT NULL,
  alert_id     TEXT NOT NULL,
  event        TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body         BYTEA NOT NULL,
  state        TEXT NOT NULL, -- pending | delivered | failed
  attempts     BIGINT NOT NULL DEFAULT 0,
  next_ns      BIGINT NOT NULL,
  created_ns   BIGINT NOT NULL,
  settled_ns   BIGINT NOT NULL DEFAULT 0,
  last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX monitor_outbox_due ON monitor_outbox (state, next_ns);
CREATE INDEX monitor_outbox_key ON monitor_outbox (key, state, id);
CREATE TABLE monitor_inbox (
  id          BIGSERIAL PRIMARY KEY,
  enqueued_ns BIGINT NOT NULL,
  data        BYTEA NOT NULL -- the monitor.Observation as JSON
);
