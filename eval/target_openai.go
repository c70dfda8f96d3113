package eval

import "errors"

func newOpenAITarget(s *Suite, opts Options) (Target, error) {
	return nil, errors.New("openai target: not built yet")
}
