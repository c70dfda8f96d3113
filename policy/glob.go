package policy

import "path"

// matchAny reports whether name matches one of the path.Match globs. Globs
// were validated when the policy was compiled, so errors cannot occur here.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if g == name {
			return true
		}
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
