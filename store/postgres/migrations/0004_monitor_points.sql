-- The history of each monitor series, one row per time bucket, so the
-- monitors page can draw a rate over time with its interval band. The
-- engine rewrites the open bucket at each checkpoint; the retention sweep
-- deletes buckets older than --retain. Independent of 0003.
CREATE TABLE monitor_points (
  monitor   TEXT NOT NULL,
  group_key TEXT NOT NULL,
  start_ns  BIGINT NOT NULL,
  end_ns    BIGINT NOT NULL,
  n         BIGINT NOT NULL,
  events    BIGINT NOT NULL,
  rate      DOUBLE PRECISION NOT NULL,
  lo        DOUBLE PRECISION NOT NULL,
  hi        DOUBLE PRECISION NOT NULL,
  baseline  BYTEA,             -- the monitor.Rate as JSON; NULL during the first warm-up
  PRIMARY KEY (monitor, group_key, start_ns)
);
CREATE INDEX monitor_points_start ON monitor_points (start_ns);
