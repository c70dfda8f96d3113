package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/probity/probity"
)

// Lock records a hash of every tool definition at the time a person
// reviewed them (--pin tools.lock), so a later run can say which tools
// changed, appeared or disappeared since: a rug pull, where a server swaps
// an approved tool's definition for a malicious one.
type Lock struct {
	// Version is the lock format's version, 1.
	Version int `json:"version"`
	// Tools maps a tool name to the hashes of its definition.
	Tools map[string]LockEntry `json:"tools"`

	file       string
	text       string
	lineStarts []int
}

// LockEntry is the pinned state of one tool: a hash of the whole
// definition and of each part, so a change can be said in words.
type LockEntry struct {
	// SHA256 hashes the whole definition (name, description, arguments,
	// annotations), canonically encoded.
	SHA256 string `json:"sha256"`
	// Description, Arguments and Annotations hash each part.
	Description string `json:"description"`
	Arguments   string `json:"arguments"`
	Annotations string `json:"annotations,omitempty"`
	// Source is the file or server the definition was read from.
	Source string `json:"source"`
}

func hashOf(v any) string {
	b, _ := json.Marshal(v) // maps marshal with sorted keys: canonical
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// entry computes t's lock entry.
func (t *Tool) entry() LockEntry {
	var annot any
	if t.annot != nil {
		annot = t.annot.toAny()
	}
	schema := t.schema.toAny()
	e := LockEntry{
		SHA256:      hashOf(map[string]any{"name": t.Name, "description": t.Description, "arguments": schema, "annotations": annot}),
		Description: hashOf(t.Description),
		Arguments:   hashOf(schema),
		Source:      t.File,
	}
	if annot != nil {
		e.Annotations = hashOf(annot)
	}
	return e
}

// NewLock pins tools.
func NewLock(tools []*Tool) *Lock {
	l := &Lock{Version: 1, Tools: map[string]LockEntry{}}
	for _, t := range tools {
		l.Tools[t.Name] = t.entry()
	}
	return l
}

// Marshal encodes the lock as indented JSON with sorted keys, one tool per
// block, so that diffs of a checked-in lock are readable.
func (l *Lock) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(l) // a map of strings cannot fail to encode
	return b.Bytes()
}

// ReadLock reads a lock file. A missing file is reported with
// errors.Is(err, os.ErrNotExist) so the caller can pin afresh.
func ReadLock(file string) (*Lock, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: file, Message: "read tool lock", Err: err}
	}
	root, err := parseJSON(b)
	if err != nil {
		if pe, ok := err.(*probity.Error); ok {
			pe.File = file
			return nil, pe
		}
		return nil, err
	}
	l := &Lock{file: file, text: string(b), lineStarts: lineStarts(string(b))}
	bad := func(n *node, format string, args ...any) error {
		e := errAt(n.pos, format, args...).(*probity.Error)
		e.File = file
		return e
	}
	if root.kind != kindObject {
		return nil, bad(root, "a tool lock is a JSON object {\"version\": 1, \"tools\": {...}}")
	}
	if v := root.get("version"); v == nil || v.kind != kindNumber || v.str != "1" {
		return nil, bad(root, "unsupported tool lock version (want 1)")
	}
	l.Version = 1
	tools := root.get("tools")
	if tools == nil || tools.kind != kindObject {
		return nil, bad(root, "a tool lock needs a \"tools\" object")
	}
	l.Tools = map[string]LockEntry{}
	for _, m := range tools.members {
		if m.value.kind != kindObject || m.value.get("sha256").text() == "" {
			return nil, bad(m.value, "tool %q: want an object with a sha256", m.key)
		}
		l.Tools[m.key] = LockEntry{
			SHA256:      m.value.get("sha256").text(),
			Description: m.value.get("description").text(),
			Arguments:   m.value.get("arguments").text(),
			Annotations: m.value.get("annotations").text(),
			Source:      m.value.get("source").text(),
		}
	}
	return l, nil
}

// span returns where tool name is pinned in the lock file.
func (l *Lock) span(name string) Span {
	key, _ := json.Marshal(name)
	if i := strings.Index(l.text, string(key)+":"); i >= 0 {
		return spanAt(l.file, posIn(l.text, l.lineStarts, i))
	}
	return Span{File: l.file, Line: 1, Column: 1}
}

// names returns the pinned tool names, sorted.
func (l *Lock) names() []string {
	var out []string
	for n := range l.Tools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func ruleToolChanged() *Rule {
	return &Rule{
		ID:       "tool-changed",
		Severity: probity.SeverityHigh,
		Title:    "a pinned tool's definition changed (rug pull)",
		Rationale: "A server can show a harmless definition when the user approves it and serve a different one " +
			"later; MCP clients do not ask again. A definition that differs from the pinned hash must be reviewed " +
			"as if it were new.",
		Fix:   "review the new definition (git diff of the tool file, or --save-tools), then re-pin with --update-pin",
		check: checkChanged,
	}
}

func ruleToolAdded() *Rule {
	return &Rule{
		ID:       "tool-added",
		Severity: probity.SeverityMedium,
		Title:    "a tool that was not pinned appeared",
		Rationale: "A new tool reaches the model without the review the pinned ones had; a server that adds tools " +
			"after approval can slip in a poisoned one.",
		Fix:   "review the new tool, then re-pin with --update-pin",
		check: checkAdded,
	}
}

func ruleToolRemoved() *Rule {
	return &Rule{
		ID:       "tool-removed",
		Severity: probity.SeverityLow,
		Title:    "a pinned tool disappeared",
		Rationale: "A tool the prompt or the policy relies on (an audit log, a confirmation step) is gone; the " +
			"agent works around it, or a rule for it silently guards nothing.",
		Fix:   "find out why the tool went away, then re-pin with --update-pin",
		check: checkRemoved,
	}
}

func checkChanged(in *Input, r *reporter) {
	if in.Pinned == nil {
		return
	}
	for _, t := range in.Tools {
		old, ok := in.Pinned.Tools[t.Name]
		if !ok {
			continue
		}
		now := t.entry()
		if now.SHA256 == old.SHA256 {
			continue
		}
		var parts []string
		sp := spanAt(t.File, t.Pos())
		if now.Description != old.Description {
			parts = append(parts, "description")
			if t.desc != nil {
				sp = spanAt(t.File, t.desc.pos)
			}
		}
		if now.Arguments != old.Arguments {
			parts = append(parts, "arguments")
			if len(parts) == 1 && t.schema != nil {
				sp = spanAt(t.File, t.schema.pos)
			}
		}
		if now.Annotations != old.Annotations {
			parts = append(parts, "annotations")
		}
		if len(parts) == 0 {
			parts = append(parts, "definition")
		}
		r.add(Finding{
			Span:    sp,
			Related: []Span{in.Pinned.span(t.Name)},
			Tool:    t.Name,
			Message: fmt.Sprintf("%s changed since it was pinned in %s: its %s changed", t.Name, in.Pinned.file, strings.Join(parts, " and ")),
		})
	}
}

func checkAdded(in *Input, r *reporter) {
	if in.Pinned == nil {
		return
	}
	for _, t := range in.Tools {
		if _, ok := in.Pinned.Tools[t.Name]; !ok {
			r.add(Finding{
				Span:    spanAt(t.File, t.Pos()),
				Tool:    t.Name,
				Message: fmt.Sprintf("%s is not in %s: a tool added since the definitions were pinned", t.Name, in.Pinned.file),
			})
		}
	}
}

func checkRemoved(in *Input, r *reporter) {
	if in.Pinned == nil {
		return
	}
	have := map[string]bool{}
	for _, t := range in.Tools {
		have[t.Name] = true
	}
	for _, name := range in.Pinned.names() {
		if !have[name] {
			r.add(Finding{
				Span:    in.Pinned.span(name),
				Tool:    name,
				Message: fmt.Sprintf("%s was pinned (from %s) but is no longer among the tools", name, in.Pinned.Tools[name].Source),
			})
		}
	}
}
