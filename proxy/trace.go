package proxy

import (
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/proxy/cassette"
)

// TraceFormat is the Trace.Format of traces rebuilt by the proxy.
const TraceFormat = "probity-proxy"

// TraceFile is what the recorder writes to DIR/traces/<run>.json: the
// run's conversation as a request of the API the agent spoke ({"model",
// "system", "messages"}), with the model's last answer appended, the shape
// `probity analyze` reads. Anthropic messages keep their content blocks
// (a tool_result's is_error included) so that a run recorded through the
// proxy and the same conversation imported from a file give the same
// trace; Responses API items are written as Chat messages. Probity holds
// where it came from.
type TraceFile struct {
	Model    string         `json:"model,omitempty"`
	System   *wire.Content  `json:"system,omitempty"`
	Messages []wire.Message `json:"messages"`
	Probity  struct {
		Run      string `json:"run"`
		Cassette string `json:"cassette"`
		Calls    int    `json:"calls"`
	} `json:"probity"`
}

// Conversation rebuilds the agent's conversation from a run's cassette.
// Each request repeats the history (tool results included), so the request
// with the longest history plus the response to it holds the whole run;
// Responses API chains (previous_response_id) that do not repeat history
// are concatenated instead.
func Conversation(c *cassette.Cassette) (model string, system *wire.Content, msgs []wire.Message) {
	var b convBuilder
	for _, in := range c.Interactions {
		b.add(in)
	}
	return b.result()
}

// convBuilder is Conversation one interaction at a time, so the recorder
// can keep a run's conversation without keeping its interactions: it
// holds the longest request-plus-response seen, and, for Responses API
// chains, the concatenation.
type convBuilder struct {
	seen    bool
	chained bool
	model   string
	system  *wire.Content
	msgs    []wire.Message
	chain   []wire.Message
}

func (b *convBuilder) add(in cassette.Interaction) {
	a := wire.APIOf(in.Request.Path)
	body, _ := in.Request.Body.Bytes()
	req, err := wire.DecodeRequest(a, body)
	if err != nil {
		return
	}
	var resp []wire.Message
	if in.Response != nil && in.Response.Status/100 == 2 {
		rb, _ := in.Response.Body.Bytes()
		if in.Response.Stream {
			resp = wire.DecodeStream(a, rb)
		} else {
			resp, _ = wire.DecodeResponse(a, rb)
		}
	}
	if req.PreviousResponseID != "" {
		b.chained = true
	}
	if b.system == nil {
		b.system = req.System
	}
	if a == wire.APIResponses {
		// Only Responses API runs can be chains; keeping every other
		// run's history here would hold all of it in memory.
		b.chain = append(b.chain, req.Messages...)
		b.chain = append(b.chain, resp...)
	}
	if !b.seen || len(req.Messages)+len(resp) >= len(b.msgs) {
		b.seen, b.model = true, req.Model
		if req.System != nil {
			b.system = req.System
		}
		b.msgs = append(append([]wire.Message{}, req.Messages...), resp...)
	}
}

func (b *convBuilder) result() (string, *wire.Content, []wire.Message) {
	if b.chained {
		return b.model, b.system, b.chain
	}
	return b.model, b.system, b.msgs
}
