package probity

// Severity ranks how much a finding matters. The zero value is SeverityNone,
// which is below every real severity; "--fail-on none" uses it.
type Severity int

// The severities, in increasing order.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
)

var severityNames = [...]string{"none", "low", "medium", "high"}

// String returns the lower-case name used in reports and configuration.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity parses "none", "low", "medium" or "high".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return SeverityNone, Errorf(EINVALID, "unknown severity %q (want none, low, medium or high)", s)
}

// MarshalText implements encoding.TextMarshaler so JSON shows the name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Verdict sums up a trace after analysis.
type Verdict string

// The verdicts: ok means nothing above low was found; suspect means medium
// findings; fail means at least one high finding.
const (
	VerdictOK      Verdict = "ok"
	VerdictSuspect Verdict = "suspect"
	VerdictFail    Verdict = "fail"
)

// Finding is one thing a detector or policy found in a trace. Every finding
// carries the evidence that explains it.
type Finding struct {
	// Detector is the stable id of what produced the finding
	// ("ungrounded-argument", "cascade", "policy:authenticate-first").
	Detector string `json:"detector"`
	// Severity is how much it matters.
	Severity Severity `json:"severity"`
	// Confidence in [0, 1] is how sure the detector is.
	Confidence float64 `json:"confidence"`
	// Step is the 0-based source position (Position.Index) the finding is on.
	Step int `json:"step"`
	// StepIndex is the index into Trace.Steps; it is not part of the JSON
	// contract because positions are what users see.
	StepIndex int `json:"-"`
	// Message is one line a person reads.
	Message string `json:"message"`
	// Evidence quotes what the finding rests on.
	Evidence []Evidence `json:"evidence"`
	// BlastRadius lists the source positions of later steps the problem
	// reached, for cascades; side-effecting actions are flagged in Evidence.
	BlastRadius []int `json:"blast_radius"`
}

// Evidence is one piece of support for a finding: a value and where it was,
// or was not, found.
type Evidence struct {
	// Value is the atom in question, as written ("#W2378156", "$54.04").
	Value string `json:"value,omitempty"`
	// Kind says what the value is ("order-id", "money", "date", ...), or what
	// the evidence is ("error-result", "instruction").
	Kind string `json:"kind,omitempty"`
	// Class is the provenance class of the value: grounded, derived,
	// near-miss or ungrounded.
	Class string `json:"class,omitempty"`
	// Source quotes the nearest supporting or contradicting text.
	Source string `json:"source,omitempty"`
	// SourceStep is the source position of Source, or -1 when there is none.
	SourceStep int `json:"source_step"`
	// Note explains the relation in words ("one digit changed").
	Note string `json:"note,omitempty"`
}
