package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// FuzzParse feeds arbitrary YAML to the policy compiler: it must return a
// policy or an EINVALID *probity.Error, never panic; a policy it accepts must
// decide a call without panicking. Seeds are the real policies.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../examples/policies/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("rules:\n  - name: a\n    deny: |\n      args.x ==\n"))
	f.Add([]byte("budgets:\n  - name: b\n    sum: args.amount\n    max: 1e400\n"))
	f.Add([]byte("rules: {}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := policy.Parse(src)
		if err != nil {
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID {
				t.Fatalf("Parse error %v (%T) is not an EINVALID *probity.Error", err, err)
			}
			return
		}
		tr := trace(user("please cancel #W1 for 20"), assistant("Cancel #W1?"), user("yes"),
			call("cancel_order", `{"order_id":"#W1","amount":20,"path":"a.env"}`), result("cancel_order", `{"status":"cancelled"}`),
			call("write_file", `{"path":".env"}`))
		_ = p.FindingsContext(context.Background(), tr)
	})
}
