package otlp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/probity/probity"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// exactStep restores a step Write exported: one span, one step, every field
// from the attributes stepAttrs wrote.
func exactStep(s *spanRec) (probity.Step, error) {
	a := s.attrs
	st := probity.Step{Kind: probity.Kind(a.str(attrKind)), Actor: a.str(attrActor), ID: a.str(attrStepID), ParentID: a.str(attrParentID)}
	if !st.Kind.Valid() {
		return st, fmt.Errorf("unknown %s %q", attrKind, st.Kind)
	}
	st.Pos = probity.Position{Index: s.ord, SpanID: a.str(attrSpanID)}
	if v, ok := a.int(attrIndex); ok {
		st.Pos.Index = int(v)
	}
	if v, ok := a.int(attrPart); ok {
		st.Pos.Part = int(v)
	}
	if v, ok := a.int(attrLine); ok {
		st.Pos.Line = int(v)
	}
	switch st.Kind {
	case probity.KindSystem, probity.KindUser:
		st.Content = firstText(a, "gen_ai.input.messages")
	case probity.KindAssistant, probity.KindFinal, probity.KindToolCall:
		st.Content = firstText(a, "gen_ai.output.messages")
	case probity.KindToolResult:
		st.Content = a.str("gen_ai.tool.call.result")
	case probity.KindRetrieval:
		if raw, ok := a.json("gen_ai.retrieval.documents"); ok {
			if docs := parseDocs(raw); len(docs) > 0 {
				st.Content = docs[0]
			}
		}
	case probity.KindHandoff:
		st.Content = a.str("input.value")
	case probity.KindReturn:
		st.Content = a.str("output.value")
	}
	if ok, _ := a.bool(attrHasTool); ok {
		c := &probity.ToolCall{ID: a.str("gen_ai.tool.call.id"), Name: a.str("gen_ai.tool.name"), RawArgs: a.str(attrRawArgs)}
		if a.has("gen_ai.tool.call.arguments") {
			if args := a.str("gen_ai.tool.call.arguments"); args != "" && (!a.has(attrRawArgs) || args != c.RawArgs) {
				c.Args = json.RawMessage(args)
				if !json.Valid(c.Args) {
					return st, errors.New("gen_ai.tool.call.arguments: not JSON")
				}
			}
		}
		st.Tool = c
	}
	if s.sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		code := a.str("error.type")
		if code == "_OTHER" {
			code = ""
		}
		st.Error = &probity.ToolError{Message: s.sp.GetStatus().GetMessage(), Code: code}
	}
	st.Model = modelOf(a)
	if st.Model == nil && a.has(attrModel) {
		st.Model = &probity.Model{}
	}
	if untimed, _ := a.bool(attrUntimed); untimed {
		return st, nil
	}
	var err error
	if st.Start, err = exactTime(a, attrStart, s.start()); err != nil {
		return st, err
	}
	if st.End, err = exactTime(a, attrEnd, s.end()); err != nil {
		return st, err
	}
	return st, nil
}

func exactTime(a attrs, key string, def time.Time) (time.Time, error) {
	if !a.has(key) {
		return def, nil
	}
	s := a.str(key)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

// firstText is the first text part of the first message in a GenAI
// messages attribute, read without the lenient fallbacks so it round-trips
// exactly.
func firstText(a attrs, key string) string {
	raw, ok := a.json(key)
	if !ok {
		return ""
	}
	var msgs []struct {
		Parts []struct {
			Type    string  `json:"type"`
			Content *string `json:"content"`
		} `json:"parts"`
	}
	if json.Unmarshal(raw, &msgs) != nil || len(msgs) == 0 {
		return ""
	}
	for _, p := range msgs[0].Parts {
		if p.Type == "text" && p.Content != nil {
			return *p.Content
		}
	}
	return ""
}

// parseDocs reads gen_ai.retrieval.documents: a list of {id, score, content}.
// A document without content is named by its id.
func parseDocs(raw json.RawMessage) []string {
	var docs []struct {
		ID      looseString     `json:"id"`
		Content json.RawMessage `json:"content"`
		Text    json.RawMessage `json:"text"`
	}
	if json.Unmarshal(raw, &docs) != nil {
		return nil
	}
	out := make([]string, 0, len(docs))
	for _, d := range docs {
		c := firstRaw(d.Content, d.Text)
		if len(bytes.TrimSpace(c)) > 0 {
			out = append(out, textOf(c))
		} else {
			out = append(out, string(d.ID))
		}
	}
	return out
}

type invocation struct {
	temperature *float64
	seed        *int64
	model       string
}

// invocationParams reads OpenInference's llm.invocation_parameters JSON.
func invocationParams(raw json.RawMessage) invocation {
	var p struct {
		Temperature *float64 `json:"temperature"`
		Seed        *int64   `json:"seed"`
		Model       string   `json:"model"`
		ModelName   string   `json:"model_name"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return invocation{}
	}
	if p.Model == "" {
		p.Model = p.ModelName
	}
	return invocation{temperature: p.Temperature, seed: p.Seed, model: p.Model}
}

// restoreTrace fills t's metadata from the resource attributes Write wrote.
func restoreTrace(t *probity.Trace, res attrs) error {
	t.ID = res.str(attrTraceID)
	// Source and Format describe the file this trace was read from: the
	// analyze and inspect contracts promise "source" is the input path. The
	// ones a conversion recorded are kept in Meta; step positions still
	// point at the original messages.
	if res.has(attrSource) {
		setMeta(t, MetaOriginalSource, res.str(attrSource))
	}
	if res.has(attrFormat) {
		setMeta(t, MetaOriginalFormat, res.str(attrFormat))
	}
	t.Task = res.str(attrTask)
	if c := res.str(attrClock); c != "" {
		clock, err := time.Parse(time.RFC3339Nano, c)
		if err != nil {
			return fmt.Errorf("%s: %w", attrClock, err)
		}
		t.Clock = clock
	}
	l := &t.Labels
	if v, ok := res.float(prefixLabels + "reward"); ok {
		l.Reward = &v
	}
	if v, ok := res.bool(prefixLabels + "resolved"); ok {
		l.Resolved = &v
	}
	l.ExitStatus = res.str(prefixLabels + "exit_status")
	if v, ok := res.bool(prefixLabels + "is_correct"); ok {
		l.IsCorrect = &v
	}
	l.MistakeAgent = res.str(prefixLabels + "mistake_agent")
	if v, ok := res.int(prefixLabels + "mistake_step"); ok {
		n := int(v)
		l.MistakeStep = &n
	}
	l.MistakeReason = res.str(prefixLabels + "mistake_reason")
	l.GroundTruth = res.str(prefixLabels + "ground_truth")
	if v := res[attrExpected]; v != nil {
		for _, e := range v.GetArrayValue().GetValues() {
			f := attrMap(e.GetKvlistValue().GetValues())
			c := probity.ToolCall{ID: f.str("id"), Name: f.str("name"), RawArgs: f.str("raw_arguments")}
			if f.str("arguments") != "" {
				c.Args = json.RawMessage(f.str("arguments"))
				if !json.Valid(c.Args) {
					return fmt.Errorf("%s: arguments are not JSON", attrExpected)
				}
			}
			t.Expected = append(t.Expected, c)
		}
	}
	if v := res[attrExpectedOutputs]; v != nil {
		for _, e := range v.GetArrayValue().GetValues() {
			t.ExpectedOutputs = append(t.ExpectedOutputs, e.GetStringValue())
		}
	}
	for k, v := range res {
		if name, ok := strings.CutPrefix(k, prefixMeta); ok {
			if t.Meta == nil {
				t.Meta = map[string]string{}
			}
			t.Meta[name] = valueText(v)
		}
	}
	return nil
}

// Meta keys under which Read keeps the source file and format that a
// converted trace was first read from.
const (
	MetaOriginalSource = "original_source"
	MetaOriginalFormat = "original_format"
)

// setMeta sets t.Meta[k] = v, creating the map when needed.
func setMeta(t *probity.Trace, k, v string) {
	if t.Meta == nil {
		t.Meta = map[string]string{}
	}
	t.Meta[k] = v
}
