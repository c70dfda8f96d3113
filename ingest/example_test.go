package ingest_test

import (
	"context"
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

// Each reads every trace of every input; a bad file is reported after the
// good ones have been read.
func ExampleEach() {
	args := []string{"testdata/good/chat.jsonl", "testdata/bad/truncated-taubench.json"}
	err := ingest.Each(context.Background(), args, ingest.Options{}, func(t *probity.Trace) error {
		fmt.Printf("%s (%s): %d steps, tools %v\n", t.ID, t.Format, len(t.Steps), t.Tools())
		return nil
	})
	fmt.Println(err)
	// Output:
	// chat/line-1 (chatlog): 4 steps, tools [get_order]
	// chat/line-2 (chatlog): 5 steps, tools [refund]
	// testdata/bad/truncated-taubench.json: record 0, line 4, column 43: unexpected end of input (truncated file?)
}

// Step positions point at the source message: here the tool result in
// message 2 of the first conversation, answering the call in message 1.
func ExampleReadAll() {
	traces, err := ingest.ReadAll(context.Background(), "testdata/good/chat.jsonl", ingest.Options{})
	if err != nil {
		panic(err)
	}
	for _, s := range traces[0].Steps {
		fmt.Printf("message %d part %d: %s", s.Pos.Index, s.Pos.Part, s.Kind)
		if s.Tool != nil {
			fmt.Printf(" %s", s.Tool.Name)
		}
		if s.Tool != nil && s.Tool.Args != nil {
			fmt.Printf(" %s", s.Tool.Args)
		}
		fmt.Println()
	}
	// Output:
	// message 0 part 0: user
	// message 1 part 1: tool_call get_order {"order_id":"1182"}
	// message 2 part 0: tool_result get_order
	// message 3 part 0: assistant
}
