-- The history of each monitor series, one row per time bucket, so the
-- monitors page can draw a rate over time with its interval band. The
-- engine rewrites the open bucket at each checkpoint; the retention sweep
-- deletes buckets older than --retain. Independent of 0003.
CREATE TABLE monitor_points (
  monitor   TEXT NOT NULL,
  group_key TEXT NOT NULL,
  start_ns  INTEGER NOT NULL,
  end_ns    INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  events    INTEGER NOT NULL,
  rate      REAL NOT NULL,
  lo        REAL NOT NULL,
  hi        REAL NOT NULL,
  baseline  BLOB,             -- the monitor.Rate as JSON; NULL during the first warm-up
  PRIMARY KEY (monitor, group_key, start_ns)
);
CREATE INDEX monitor_points_start ON monitor_points (start_ns);
