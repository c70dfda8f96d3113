package detect

// Config tunes the detectors: which tools have side effects, beyond what
// their names say. It is loaded from a YAML file by LoadConfig (to be built by
// the detection work).
type Config struct {
	// SideEffects maps a tool name (or glob) to true when calling it changes
	// the world, false to override a name-based guess.
	SideEffects map[string]bool `yaml:"side_effects"`
}
