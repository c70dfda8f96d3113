-- What `probity guard serve --db` keeps so that several guards enforce
-- one policy: budget usage (policy.LedgerBackend) and approvals
-- (guard.ApprovalStore). Independent of the trace and monitor tables.
CREATE TABLE guard_budget (
  budget     TEXT NOT NULL,
  run        TEXT NOT NULL,    -- per-run budgets; '' otherwise
  bkey       TEXT NOT NULL,    -- value of the budget's key expression
  window_s   INTEGER NOT NULL, -- start of the hour or day (Unix seconds); 0 per run
  calls      INTEGER NOT NULL,
  amount     REAL NOT NULL,
  until_s    INTEGER NOT NULL, -- end of the window; 0 per run
  touched_ns INTEGER NOT NULL, -- clock of the latest reserve that charged it
  PRIMARY KEY (budget, run, bkey, window_s)
);
CREATE INDEX guard_budget_until ON guard_budget (until_s);
CREATE INDEX guard_budget_run ON guard_budget (run);
CREATE TABLE guard_approvals (
  id          TEXT PRIMARY KEY,
  status      TEXT NOT NULL,    -- pending | approved | denied | expired
  created_ns  INTEGER NOT NULL,
  deadline_ns INTEGER NOT NULL,
  resolved_ns INTEGER NOT NULL,
  resolved_by TEXT NOT NULL,
  note        TEXT NOT NULL,
  data        BLOB NOT NULL       -- the guard.Approval as JSON when it was held
);
CREATE INDEX guard_approvals_status ON guard_approvals (status, created_ns);
