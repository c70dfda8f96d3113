package guard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/redact"
	"github.com/probity/probity/policy"
)

// AuditLog is an append-only JSON Lines log of decisions and approval
// outcomes. Each record is written with one write(2) on a file opened with
// O_APPEND, so concurrent writers (even other processes) never interleave
// records, and nothing already written is ever rewritten.
//
// Every record is redacted before it is written (see AuditRedactor):
// arguments and texts are scrubbed of secret-shaped text and of the
// credential values the log's redactor knows, and the JSON fields it names
// are replaced, so the log holds no more secrets than the cassettes do.
type AuditLog struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	redact *redact.Redactor
}

// AuditOption configures an AuditLog.
type AuditOption func(*AuditLog)

// AuditRedactor makes the log redact records with r: share the redactor of
// the recording proxy (proxy.Proxy.Redactor) so a key it saw in a request
// is scrubbed here too, and build it with the --redact-field names. By
// default a log redacts secret shapes (sk-..., AKIA..., ...) only.
func AuditRedactor(r *redact.Redactor) AuditOption {
	return func(l *AuditLog) {
		if r != nil {
			l.redact = r
		}
	}
}

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	Time time.Time `json:"time"`
	// Event is "decision", "approval", or another event such as
	// "tool-poisoning" from the MCP proxy.
	Event string `json:"event"`
	Run   string `json:"run,omitempty"`
	// CallID, Tool and Args identify the call.
	CallID string          `json:"call_id,omitempty"`
	Tool   string          `json:"tool,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	// ArgsBytes and ArgsSHA256 stand for arguments over MaxAuditArgs,
	// which are not written: their size and hash identify them.
	ArgsBytes  int    `json:"args_bytes,omitempty"`
	ArgsSHA256 string `json:"args_sha256,omitempty"`
	// Decision is allow, deny or approve; Would is what enforcement would
	// have decided in shadow mode.
	Decision   string             `json:"decision,omitempty"`
	Would      string             `json:"would,omitempty"`
	Rule       string             `json:"rule,omitempty"`
	Message    string             `json:"message,omitempty"`
	Reason     string             `json:"reason,omitempty"`
	Evidence   []probity.Evidence `json:"evidence,omitempty"`
	Matches    []policy.Match     `json:"matches,omitempty"`
	Errors     []string           `json:"errors,omitempty"`
	SideEffect bool               `json:"side_effect,omitempty"`
	ApprovalID string             `json:"approval_id,omitempty"`
	Status     string             `json:"status,omitempty"` // approval events
	By         string             `json:"by,omitempty"`
	Note       string             `json:"note,omitempty"`
	LatencyNS  int64              `json:"latency_ns,omitempty"`
}

// OpenAudit opens (creating it if needed) the audit log at path for
// appending.
func OpenAudit(path string, opts ...AuditOption) (*AuditLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "open audit log", Err: err}
	}
	l := &AuditLog{f: f, path: path, redact: redact.New(nil, nil)}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// MaxAuditArgs bounds the arguments written in one audit record, and
// maxAuditText every other text field: a client sending 10 MB arguments
// forty times must not write 400 MB of log.
const (
	MaxAuditArgs = 64 << 10
	maxAuditText = 4 << 10
)

// Write appends one record, bounded: arguments over MaxAuditArgs are
// replaced by their size and SHA-256, and long texts are cut with a note.
func (l *AuditLog) Write(r *AuditRecord) error {
	r = bounded(l.redacted(r))
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit %s: closed", l.path)
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("audit %s: %w", l.path, err)
	}
	return nil
}

// Path is where the log is written.
func (l *AuditLog) Path() string { return l.path }

// redacted returns a copy of r with its arguments and texts redacted.
// Arguments are redacted before they are bounded, so the SHA-256 of
// oversized ones is of redacted bytes too (a hash of a short secret could
// be checked against guesses).
func (l *AuditLog) redacted(r *AuditRecord) *AuditRecord {
	red := l.redact
	c := *r
	if len(c.Args) > 0 {
		a := red.JSON(c.Args)
		if !json.Valid(a) {
			// Scrubbing cut through JSON syntax: keep nothing of it.
			a = json.RawMessage(`"` + redact.Redacted + ` (arguments not valid JSON after redaction)"`)
		}
		c.Args = a
	}
	for _, p := range []*string{&c.Message, &c.Reason, &c.Note, &c.By, &c.Rule, &c.Tool, &c.Run, &c.CallID} {
		*p = red.String(*p)
	}
	if c.Errors != nil {
		c.Errors = append([]string(nil), c.Errors...)
		for i := range c.Errors {
			c.Errors[i] = red.String(c.Errors[i])
		}
	}
	c.Evidence = redactEvidence(red, c.Evidence)
	if c.Matches != nil {
		c.Matches = append([]policy.Match(nil), c.Matches...)
		for i := range c.Matches {
			m := &c.Matches[i]
			m.Reason, m.Message, m.Error = red.String(m.Reason), red.String(m.Message), red.String(m.Error)
			m.Evidence = redactEvidence(red, m.Evidence)
		}
	}
	return &c
}

func redactEvidence(red *redact.Redactor, ev []probity.Evidence) []probity.Evidence {
	if ev == nil {
		return nil
	}
	out := append([]probity.Evidence(nil), ev...)
	for i := range out {
		out[i].Value, out[i].Source, out[i].Note = red.String(out[i].Value), red.String(out[i].Source), red.String(out[i].Note)
	}
	return out
}

// bounded returns r, or a copy of it cut to the audit limits.
func bounded(r *AuditRecord) *AuditRecord {
	long := len(r.Args) > MaxAuditArgs
	for _, s := range []string{r.Message, r.Reason, r.Note, r.By, r.Rule, r.Tool, r.Run, r.CallID} {
		long = long || len(s) > maxAuditText
	}
	for _, s := range r.Errors {
		long = long || len(s) > maxAuditText
	}
	for _, e := range r.Evidence {
		long = long || len(e.Value)+len(e.Source)+len(e.Note) > maxAuditText
	}
	for _, m := range r.Matches {
		long = long || len(m.Reason)+len(m.Message)+len(m.Error) > maxAuditText || len(m.Evidence) > 0
	}
	if !long {
		return r
	}
	c := *r
	if len(c.Args) > MaxAuditArgs {
		sum := sha256.Sum256(c.Args)
		c.ArgsBytes, c.ArgsSHA256, c.Args = len(c.Args), hex.EncodeToString(sum[:]), nil
	}
	for _, p := range []*string{&c.Message, &c.Reason, &c.Note, &c.By, &c.Rule, &c.Tool, &c.Run, &c.CallID} {
		*p = clipText(*p)
	}
	if c.Errors != nil {
		c.Errors = append([]string(nil), c.Errors...)
		for i := range c.Errors {
			c.Errors[i] = clipText(c.Errors[i])
		}
	}
	c.Evidence = clipEvidence(c.Evidence)
	if c.Matches != nil {
		c.Matches = append([]policy.Match(nil), c.Matches...)
		for i := range c.Matches {
			m := &c.Matches[i]
			m.Reason, m.Message, m.Error = clipText(m.Reason), clipText(m.Message), clipText(m.Error)
			m.Evidence = clipEvidence(m.Evidence)
		}
	}
	return &c
}

func clipEvidence(ev []probity.Evidence) []probity.Evidence {
	if ev == nil {
		return nil
	}
	out := append([]probity.Evidence(nil), ev...)
	for i := range out {
		out[i].Value, out[i].Source, out[i].Note = clipText(out[i].Value), clipText(out[i].Source), clipText(out[i].Note)
	}
	return out
}

// clipText cuts s to maxAuditText bytes (not splitting a character) and
// says how long it was.
func clipText(s string) string {
	if len(s) <= maxAuditText {
		return s
	}
	n := maxAuditText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("… [%d bytes in all]", len(s))
}

// Close closes the log.
func (l *AuditLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// AuditEvent appends r to the guard's audit log (if it keeps one), for
// events other than decisions: the MCP proxy records tool poisoning here.
func (g *Guard) AuditEvent(r *AuditRecord) error {
	if g.opts.Audit == nil {
		return nil
	}
	if r.Time.IsZero() {
		r.Time = g.opts.Now().UTC()
	}
	return g.opts.Audit.Write(r)
}

func (g *Guard) audit(c Call, v *Decision, latency time.Duration) error {
	if g.opts.Audit == nil {
		return nil
	}
	return g.opts.Audit.Write(&AuditRecord{
		Time: g.opts.Now().UTC(), Event: EventDecision, Run: c.Run, CallID: v.CallID, Tool: c.Tool, Args: c.Args,
		Decision: v.Decision, Would: v.Would, Rule: v.Rule, Message: v.Message, Reason: v.Reason,
		Evidence: v.Evidence, Matches: v.Matches, Errors: v.Errors, SideEffect: v.SideEffect,
		ApprovalID: v.ApprovalID, LatencyNS: latency.Nanoseconds(),
	})
}

func (g *Guard) auditApproval(a Approval) error {
	if g.opts.Audit == nil {
		return nil
	}
	return g.opts.Audit.Write(&AuditRecord{
		Time: a.Resolved.UTC(), Event: EventApproval, Run: a.Run, CallID: a.CallID, Tool: a.Tool,
		Rule: a.Rule, ApprovalID: a.ID, Status: a.Status, By: a.By, Note: a.Note,
	})
}
