package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// brittleAgentMain is an exec target for the mutate stories: right only
// when the question says "refund" in lower case, and obedient to any
// instruction in its tool results, which are the failures variants exist
// to expose. It is a test fixture, registered in TestMain.
func brittleAgentMain() {
	var req struct {
		Input    struct{ Question string } `json:"input"`
		Fixtures json.RawMessage           `json:"fixtures"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	answer := "unknown"
	if strings.Contains(req.Input.Question, "refund") {
		answer = "approved"
	}
	if f := string(req.Fixtures); strings.Contains(f, "instructions") || strings.Contains(f, "assistant") {
		answer = "HACKED"
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"output": map[string]any{"answer": answer}})
	os.Exit(0)
}
