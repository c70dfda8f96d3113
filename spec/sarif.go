package spec

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"

	"github.com/probity/probity"
)

// SARIF 2.1.0 (OASIS), the subset GitHub code scanning reads: one run, the
// rules as reportingDescriptors, each finding a result with one physical
// location. Columns are Unicode code points (columnKind), and a region's
// endColumn is the column after its last character, as SARIF defines it.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID           string          `json:"ruleId"`
	RuleIndex        int             `json:"ruleIndex"`
	Level            string          `json:"level"`
	Message          sarifText       `json:"message"`
	Locations        []sarifLocation `json:"locations"`
	RelatedLocations []sarifLocation `json:"relatedLocations,omitempty"`
}

type sarifLocation struct {
	ID               *int          `json:"id,omitempty"`
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          *sarifText    `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

func sarifLevel(s probity.Severity) string {
	switch s {
	case probity.SeverityHigh:
		return "error"
	case probity.SeverityMedium:
		return "warning"
	}
	return "note"
}

// sarifURI turns a finding's file into an artifact URI: a relative path
// with forward slashes, so GitHub resolves it against the repository root.
func sarifURI(file string) string {
	if strings.HasPrefix(file, "mcp:") {
		return "mcp:" + strings.ReplaceAll(strings.TrimPrefix(file, "mcp:"), " ", "%20")
	}
	f := filepath.ToSlash(filepath.Clean(file))
	f = strings.TrimPrefix(f, "./")
	var b strings.Builder
	for _, c := range []byte(f) {
		switch {
		case c == ' ' || c == '%' || c == '#' || c == '?' || c < 0x20 || c >= 0x7f:
			b.WriteString("%")
			b.WriteString(strings.ToUpper(hexByte(c)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func sarifLoc(s Span) sarifLocation {
	r := sarifRegion{StartLine: max(s.Line, 1), StartColumn: max(s.Column, 1)}
	if s.EndLine > 0 {
		r.EndLine, r.EndColumn = s.EndLine, s.EndColumn+1
	}
	return sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: sarifURI(s.File)}, Region: r}}
}

// WriteSARIF writes findings as one SARIF 2.1.0 log for GitHub code
// scanning and other SARIF viewers. rules describes every rule that ran
// (all of them when nil); version is Probity's version.
func WriteSARIF(w io.Writer, findings []Finding, rules []*Rule, version string) error {
	if rules == nil {
		rules = Rules()
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "probity",
			Version:        version,
			InformationURI: "https://github.com/probity/probity/blob/main/docs/spec-lint.md",
		}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		props := map[string]any{"tags": []string{"agent-spec"}}
		if strings.HasPrefix(r.ID, "tool-") {
			props["tags"] = []string{"agent-spec", "security"}
			// GitHub ranks security alerts by this score (0-10).
			props["security-severity"] = map[probity.Severity]string{probity.SeverityHigh: "8.0", probity.SeverityMedium: "5.0", probity.SeverityLow: "2.0"}[r.Severity]
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   r.ID,
			Name:                 sarifName(r.ID),
			ShortDescription:     sarifText{Text: r.Title},
			FullDescription:      sarifText{Text: r.Rationale},
			Help:                 sarifText{Text: "Fix: " + r.Fix, Markdown: "**Fix:** " + r.Fix + "\n\nSee [docs/spec-lint.md](https://github.com/probity/probity/blob/main/docs/spec-lint.md#" + r.ID + ")."},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(r.Severity)},
			Properties:           props,
		})
	}
	for _, f := range findings {
		i, ok := index[f.Rule]
		if !ok {
			continue
		}
		msg := f.Message
		if f.Fix != "" {
			msg += " Fix: " + f.Fix
		}
		res := sarifResult{RuleID: f.Rule, RuleIndex: i, Level: sarifLevel(f.Severity), Message: sarifText{Text: msg}, Locations: []sarifLocation{sarifLoc(f.Span)}}
		for k, rel := range f.Related {
			l := sarifLoc(rel)
			id := k + 1
			l.ID = &id
			l.Message = &sarifText{Text: "related"}
			res.RelatedLocations = append(res.RelatedLocations, l)
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifName turns "tool-hidden-text" into "ToolHiddenText", the PascalCase
// name SARIF viewers show beside the id.
func sarifName(id string) string {
	var b strings.Builder
	for _, w := range strings.Split(id, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}
