package yamlx

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/probity/probity"
)

// Error turns a go-yaml error into a *probity.Error (EINVALID) located by
// line and column, keeping the library's message without its source
// excerpt; a *probity.Error passes through. Callers set File.
func Error(err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pe := &probity.Error{Code: probity.EINVALID, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pe.Where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
		}
		return pe
	}
	var pe *probity.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &probity.Error{Code: probity.EINVALID, Message: "yaml", Err: err}
}
