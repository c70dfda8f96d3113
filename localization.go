package probity

// Localization says where a failed run went wrong: the step (0-based source
// position, as Finding.Step), the agent that took it, the method that found
// it and a confidence, with the ranked alternatives. It is the answer to
// "where did this failure begin", which a run that fails without any
// finding (an intent failure: every value grounded, the wrong thing done)
// still has. It never comes from attribution labels.
type Localization struct {
	// Step is the source position of the best candidate.
	Step int `json:"step"`
	// Agent is the actor of that step ("" when the source names none).
	Agent string `json:"agent"`
	// Method names what found it: "reference:actions",
	// "reference:answer", "siblings", "findings", "delegation".
	Method string `json:"method"`
	// Confidence is the calibrated probability that Step is a step where
	// the failure began (see docs/localization.md for how it was fitted).
	Confidence float64 `json:"confidence"`
	// Candidates are the ranked alternatives, best first; the first is
	// Step.
	Candidates []LocalizationCandidate `json:"candidates"`
}

// LocalizationCandidate is one step that may be where a failure began, with
// a score (higher is more likely; candidates' scores sum to at most 1) and
// the reason in words.
type LocalizationCandidate struct {
	Step   int     `json:"step"`
	Agent  string  `json:"agent"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
}
