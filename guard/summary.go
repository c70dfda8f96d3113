package guard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// Audit event kinds: the values of AuditRecord.Event that the guard and the
// MCP proxy write.
const (
	EventDecision      = "decision"
	EventApproval      = "approval"
	EventToolPoisoning = "tool-poisoning"
)

// RuleSummary counts what one rule or budget did across audit logs, and
// what it would have done in shadow mode: the evidence for switching a
// shadow policy to enforce.
type RuleSummary struct {
	Rule string `json:"rule"`
	// Denied, Approval and Logged count enforced matches by effect.
	Denied   int `json:"denied"`
	Approval int `json:"approval_requested"`
	Logged   int `json:"logged"`
	// WouldDeny and WouldApprove count shadow-mode matches.
	WouldDeny    int `json:"would_deny"`
	WouldApprove int `json:"would_approve"`
	// Errors counts evaluations of the rule that failed.
	Errors int `json:"errors"`
}

// AuditSummary aggregates audit records (see Add); its JSON form is the
// output of "probity guard report --format json".
type AuditSummary struct {
	Decisions int `json:"decisions"`
	Allowed   int `json:"allowed"`
	// Rules is sorted by rule name.
	Rules []RuleSummary `json:"rules"`
	// Approvals counts approval outcomes by status (StatusApproved, ...).
	Approvals map[string]int `json:"approvals"`
	// PoisonedTools names, sorted, the tools whose descriptions the MCP
	// proxy reported as poisoned.
	PoisonedTools []string `json:"poisoned_tools"`
}

// Add counts one audit record into s.
func (s *AuditSummary) Add(r *AuditRecord) {
	if s.Approvals == nil {
		s.Approvals = map[string]int{}
	}
	switch r.Event {
	case EventDecision:
		s.Decisions++
		if r.Decision == string(policy.Allow) {
			s.Allowed++
		}
		for _, m := range r.Matches {
			s.count(m)
		}
	case EventApproval:
		s.Approvals[r.Status]++
	case EventToolPoisoning:
		i := sort.SearchStrings(s.PoisonedTools, r.Tool)
		if i == len(s.PoisonedTools) || s.PoisonedTools[i] != r.Tool {
			s.PoisonedTools = append(s.PoisonedTools, "")
			copy(s.PoisonedTools[i+1:], s.PoisonedTools[i:])
			s.PoisonedTools[i] = r.Tool
		}
	}
}

// count adds one rule match to its rule's row, keeping Rules sorted.
func (s *AuditSummary) count(m policy.Match) {
	i := sort.Search(len(s.Rules), func(i int) bool { return s.Rules[i].Rule >= m.Rule })
	if i == len(s.Rules) || s.Rules[i].Rule != m.Rule {
		s.Rules = append(s.Rules, RuleSummary{})
		copy(s.Rules[i+1:], s.Rules[i:])
		s.Rules[i] = RuleSummary{Rule: m.Rule}
	}
	row := &s.Rules[i]
	switch {
	case m.Error != "":
		row.Errors++
	case m.Shadow && m.Effect == policy.Deny:
		row.WouldDeny++
	case m.Shadow && m.Effect == policy.Approve:
		row.WouldApprove++
	case m.Effect == policy.Deny:
		row.Denied++
	case m.Effect == policy.Approve:
		row.Approval++
	case m.Effect == policy.Log:
		row.Logged++
	}
}

// SummarizeAudit reads audit logs and aggregates every record. A line that
// is not an audit record is an EINVALID error naming the file and line.
func SummarizeAudit(files ...string) (*AuditSummary, error) {
	s := &AuditSummary{Rules: []RuleSummary{}, Approvals: map[string]int{}, PoisonedTools: []string{}}
	for _, file := range files {
		if err := ReadAudit(file, s.Add); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ReadAudit calls fn for every record of the audit log in file, in order.
// Errors: ENOTFOUND when the file cannot be opened, EINVALID (with the line)
// when a line is not an audit record.
func ReadAudit(file string, fn func(*AuditRecord)) error {
	f, err := os.Open(file)
	if err != nil {
		return &probity.Error{Code: probity.ENOTFOUND, File: file, Message: "open audit log", Err: err}
	}
	defer f.Close()
	return readAudit(file, f, fn)
}

func readAudit(file string, rd io.Reader, fn func(*AuditRecord)) error {
	r := bufio.NewReader(rd)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			var rec AuditRecord
			if jerr := json.Unmarshal(b, &rec); jerr != nil || rec.Event == "" {
				if jerr == nil {
					jerr = errors.New(`no "event"`)
				}
				return &probity.Error{Code: probity.EINVALID, File: file, Where: fmt.Sprintf("line %d", line), Message: "not an audit record", Err: jerr}
			}
			fn(&rec)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &probity.Error{Code: probity.EINVALID, File: file, Where: fmt.Sprintf("line %d", line), Message: "read", Err: err}
		}
	}
}
