package localize_test

import (
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/localize"
)

func TestParseReferences(t *testing.T) {
	refs, err := localize.ParseReferences("tasks.json", []byte(`[
 {"user_id": "u", "actions": [{"name": "cancel_pending_order", "kwargs": {"order_id": "#W1", "reason": "no longer needed"}}], "outputs": ["10"]},
 {"task_id": "t-2", "expected": {"actions": [{"name": "refund", "arguments": {"id": 3}}], "output": "42"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	r0 := refs.For(&probity.Trace{Meta: map[string]string{"task_id": "0"}})
	if r0 == nil || len(r0.Actions) != 1 || r0.Actions[0].Name != "cancel_pending_order" || len(r0.Outputs) != 1 || r0.Outputs[0] != "10" {
		t.Errorf("task 0 = %+v", r0)
	}
	r1 := refs["t-2"]
	if r1 == nil || r1.Answer != "42" || len(r1.Actions) != 1 || string(r1.Actions[0].Args) != `{"id": 3}` {
		t.Errorf("task t-2 = %+v", r1)
	}
	for _, bad := range []string{``, `{"a": 1} x`, `[1, 2]`, `[{"actions": [{"kwargs": {}}]}]`} {
		_, err := localize.ParseReferences("bad.json", []byte(bad))
		if probity.ErrorCode(err) != probity.EINVALID || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("ParseReferences(%q) = %v, want EINVALID naming the file", bad, err)
		}
	}
}

// FuzzParseReferences: any input gives references or an error naming the
// file, never a panic.
func FuzzParseReferences(f *testing.F) {
	for _, s := range []string{`[{"actions": [{"name": "x", "kwargs": {}}], "outputs": [1, "a"]}]`, `{"id": 1, "expected": {"output": null}}`, `[]`, `[{"expected": {"actions": [{}]}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := localize.ParseReferences("f.json", b)
		if err != nil && !strings.Contains(err.Error(), "f.json") {
			t.Fatalf("error %v does not name the file", err)
		}
		if err == nil && len(refs) == 0 {
			t.Fatal("no error and no references")
		}
	})
}
