package judge

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/probity/probity"
)

// vote is one well-formed answer.
type vote struct {
	Step       int
	Agent      string
	Reason     string
	Fix        string
	FixSaves   bool
	Confidence float64
}

// parseAnswer reads one answer: a single JSON object with every field of
// the format the prompt asks for, and a step that is a position of the
// run. A code fence around the object is allowed (models add one even
// when told not to); prose, missing fields, wrong types, unknown fields or
// a step the run does not have make the answer malformed, as a vote for a
// step that does not exist would count for nothing but noise.
func parseAnswer(reply string, t *probity.Trace) (vote, error) {
	s := strings.TrimSpace(reply)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		if body, ok := strings.CutSuffix(strings.TrimSpace(rest), "```"); ok {
			s = strings.TrimSpace(body)
		}
	}
	var a struct {
		Step       json.RawMessage `json:"step"`
		Agent      *string         `json:"agent"`
		Reason     *string         `json:"reason"`
		Fix        *string         `json:"fix"`
		FixSaves   *bool           `json:"fix_saves"`
		Confidence *float64        `json:"confidence"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return vote{}, fmt.Errorf("answer is not the JSON object asked for: %v (%s)", err, quote(reply))
	}
	if strings.TrimSpace(s[dec.InputOffset():]) != "" {
		return vote{}, fmt.Errorf("answer has text after its JSON object (%s)", quote(reply))
	}
	var missing []string
	for name, set := range map[string]bool{"step": a.Step != nil && string(a.Step) != "null", "agent": a.Agent != nil, "reason": a.Reason != nil,
		"fix": a.Fix != nil, "fix_saves": a.FixSaves != nil, "confidence": a.Confidence != nil} {
		if !set {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return vote{}, fmt.Errorf("answer lacks %s (%s)", strings.Join(slices.Sorted(slices.Values(missing)), ", "), quote(reply))
	}
	// A quoted "4" is refused with the rest: the format asks for a number.
	step, err := strconv.ParseInt(string(a.Step), 10, 32)
	if err != nil {
		return vote{}, fmt.Errorf("answer's step %s is not a whole number", clip(string(a.Step), 40))
	}
	if !hasStep(t, int(step)) {
		return vote{}, fmt.Errorf("answer's step %d is not a step of the run", step)
	}
	if c := *a.Confidence; c < 0 || c > 1 {
		return vote{}, fmt.Errorf("answer's confidence %g is outside [0, 1]", c)
	}
	if strings.TrimSpace(*a.Reason) == "" {
		return vote{}, errors.New("answer gives no reason")
	}
	return vote{Step: int(step), Agent: *a.Agent, Reason: *a.Reason, Fix: *a.Fix, FixSaves: *a.FixSaves, Confidence: *a.Confidence}, nil
}

func hasStep(t *probity.Trace, pos int) bool {
	for _, s := range t.Steps {
		if s.Pos.Index == pos {
			return true
		}
	}
	return false
}

func quote(s string) string { return fmt.Sprintf("%q", clip(s, 120)) }
