package otlp

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/probity/probity"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Span is one span of an export request, split out so a server can store it
// on its own and assemble its trace later (Assemble), when all its spans
// have arrived, possibly through other requests or other replicas. The ids
// and times are what a store indexes; Resource and Data keep the span
// exactly as it was sent, in protobuf wire format.
type Span struct {
	// TraceID, SpanID and ParentID are lower-case hex; ParentID is "" for
	// a root span.
	TraceID, SpanID, ParentID string
	// Start and End are the span's times (zero when not set).
	Start, End time.Time
	// Service is the resource's service.name.
	Service string
	// Agent is the span's gen_ai.agent.name (or agent.name), when it has one.
	Agent string
	// Resource is the span's Resource, protobuf-encoded. The spans of one
	// ResourceSpans share the same bytes.
	Resource []byte
	// Data is the Span, protobuf-encoded.
	Data []byte
}

// Split is what splitting one export request gave: the spans kept and, as
// OTLP's partial success reports them, how many were rejected and why (the
// first reason).
type Split struct {
	Rejected int
	Reason   string
}

func (s *Split) reject(n int, reason string) {
	if n <= 0 {
		return
	}
	if s.Rejected == 0 {
		s.Reason = reason
	}
	s.Rejected += n
}

var (
	protoOpts     = proto.UnmarshalOptions{RecursionLimit: maxDepth}
	receiveJSON   = protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: maxDepth}
	deterministic = proto.MarshalOptions{Deterministic: true}
)

// SplitProto splits an ExportTraceServiceRequest in protobuf wire format
// into spans, calling emit for each good one. The Data and Resource slices
// emitted point into b. A span that does not decode or has bad ids is left
// out and counted in the returned Split, and so are the spans of a resource
// that does not decode: the rest of the request stands. An error means the
// request's own framing is broken; spans emitted before it are still good.
func SplitProto(b []byte, emit func(*Span)) (Split, error) {
	var res Split
	sp := &tracepb.Span{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return res, fmt.Errorf("decode request: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return res, fmt.Errorf("decode request: field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		rs, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return res, fmt.Errorf("decode request: resource_spans: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if err := splitResourceSpans(rs, sp, &res, emit); err != nil {
			return res, err
		}
	}
	return res, nil
}

// splitResourceSpans walks one ResourceSpans. Its resource may come after
// its scope spans on the wire, so it is found first.
func splitResourceSpans(b []byte, sp *tracepb.Span, res *Split, emit func(*Span)) error {
	var resource []byte
	var scopes [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode resource_spans: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("decode resource_spans: field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			if num == 1 {
				resource = v
			} else {
				scopes = append(scopes, v)
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return fmt.Errorf("decode resource_spans: field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	r := &resourcepb.Resource{}
	if err := protoOpts.Unmarshal(resource, r); err != nil {
		for _, sc := range scopes {
			n, err := countSpans(sc)
			if err != nil {
				return err
			}
			res.reject(n, fmt.Sprintf("bad resource: %v", err))
		}
		return nil
	}
	service := attrMap(r.GetAttributes()).str("service.name")
	for _, sc := range scopes {
		if err := splitScopeSpans(sc, resource, service, sp, res, emit); err != nil {
			return err
		}
	}
	return nil
}

func splitScopeSpans(b, resource []byte, service string, sp *tracepb.Span, res *Split, emit func(*Span)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("decode scope_spans: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num != 2 || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("decode scope_spans: field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		data, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("decode scope_spans: span: %w", protowire.ParseError(n))
		}
		b = b[n:]
		proto.Reset(sp)
		if err := protoOpts.Unmarshal(data, sp); err != nil {
			res.reject(1, fmt.Sprintf("bad span: %v", err))
			continue
		}
		s, err := spanOf(sp, resource, service)
		if err != nil {
			res.reject(1, err.Error())
			continue
		}
		if s.Data == nil {
			s.Data = data
		}
		emit(s)
	}
	return nil
}

// countSpans counts the spans of a ScopeSpans whose resource is bad, so the
// rejection says how many were lost.
func countSpans(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return n, fmt.Errorf("decode scope_spans: %w", protowire.ParseError(m))
		}
		b = b[m:]
		if m = protowire.ConsumeFieldValue(num, typ, b); m < 0 {
			return n, fmt.Errorf("decode scope_spans: field %d: %w", num, protowire.ParseError(m))
		}
		b = b[m:]
		if num == 2 && typ == protowire.BytesType {
			n++
		}
	}
	return n, nil
}

// spanOf checks sp's ids and returns its Span. When an id had to be
// normalised (hex text read as base64, see the package doc), Data is the
// re-encoded span; otherwise it is left nil for the caller to fill with the
// bytes it has.
func spanOf(sp *tracepb.Span, resource []byte, service string) (*Span, error) {
	tid, err := idText(sp.GetTraceId(), 16)
	if err == nil && tid == "" {
		err = errors.New("id must be 32 hex digits, got none")
	}
	if err != nil {
		return nil, fmt.Errorf("span %q: traceId: %v", sp.GetName(), err)
	}
	sid, err := idText(sp.GetSpanId(), 8)
	if err == nil && sid == "" {
		err = errors.New("id must be 16 hex digits, got none")
	}
	if err != nil {
		return nil, fmt.Errorf("span %q: spanId: %v", sp.GetName(), err)
	}
	pid, err := idText(sp.GetParentSpanId(), 8)
	if err != nil {
		return nil, fmt.Errorf("span %q: parentSpanId: %v", sp.GetName(), err)
	}
	s := &Span{TraceID: tid, SpanID: sid, ParentID: pid, Service: service, Resource: resource,
		Start: unixNano(sp.GetStartTimeUnixNano()), End: unixNano(sp.GetEndTimeUnixNano())}
	for _, kv := range sp.GetAttributes() {
		if k := kv.GetKey(); k == "gen_ai.agent.name" || (k == "agent.name" && s.Agent == "") {
			s.Agent = valueText(kv.GetValue())
		}
	}
	if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 || (pid != "" && len(sp.GetParentSpanId()) != 8) {
		sp.TraceId, sp.SpanId, sp.ParentSpanId = mustHex(tid), mustHex(sid), mustHex(pid)
		if s.Data, err = deterministic.Marshal(sp); err != nil {
			return nil, fmt.Errorf("span %q: encode: %v", sp.GetName(), err)
		}
	}
	return s, nil
}

// SplitJSON splits an ExportTraceServiceRequest in OTLP/JSON into spans,
// as SplitProto does. Malformed JSON fails the whole request (there is no
// telling where its spans are); a span with bad ids is left out.
func SplitJSON(b []byte, emit func(*Span)) (Split, error) {
	req := &coltrace.ExportTraceServiceRequest{}
	if err := receiveJSON.Unmarshal(b, req); err != nil {
		return Split{}, fmt.Errorf("decode OTLP/JSON request: %w", err)
	}
	return SplitRequest(req, emit)
}

// SplitRequest splits a decoded request into spans, as SplitProto does,
// encoding each span and resource to protobuf.
func SplitRequest(req *coltrace.ExportTraceServiceRequest, emit func(*Span)) (Split, error) {
	var res Split
	for _, rs := range req.GetResourceSpans() {
		r := rs.GetResource()
		if r == nil {
			r = &resourcepb.Resource{}
		}
		resource, err := deterministic.Marshal(r)
		if err != nil {
			n := 0
			for _, ss := range rs.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
			res.reject(n, fmt.Sprintf("bad resource: %v", err))
			continue
		}
		service := attrMap(r.GetAttributes()).str("service.name")
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s, err := spanOf(sp, resource, service)
				if err != nil {
					res.reject(1, err.Error())
					continue
				}
				if s.Data == nil {
					if s.Data, err = deterministic.Marshal(sp); err != nil {
						res.reject(1, fmt.Sprintf("span %q: encode: %v", sp.GetName(), err))
						continue
					}
				}
				emit(s)
			}
		}
	}
	return res, nil
}

func mustHex(s string) []byte {
	if s == "" {
		return nil
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// Assemble builds the trace made of spans, which must all belong to one
// trace, as Read builds a trace from a file holding them in the given
// order (a store gives them by start time, then span id), except that
// spans with the same start time that carry the probity.source.*
// positions Write exports are put in their original order first, so a
// trace pushed to a server is analysed as its file is. Each step's
// Pos.Index is its span's index in that order. source becomes
// Trace.Source. Only Resource and Data of each span are read; a span whose
// bytes do not decode is an EINVALID error naming source and the span.
func Assemble(source string, spans []Span) (*probity.Trace, error) {
	if len(spans) == 0 {
		return nil, invalid(source, "", "no spans", nil)
	}
	ts := &traceSpans{spans: make([]*spanRec, 0, len(spans))}
	resources := map[string]attrs{}
	for i := range spans {
		s := &spans[i]
		res, ok := resources[string(s.Resource)]
		if !ok {
			r := &resourcepb.Resource{}
			if err := protoOpts.Unmarshal(s.Resource, r); err != nil {
				return nil, invalid(source, fmt.Sprintf("span %d", i), "bad resource", err)
			}
			res = attrMap(r.GetAttributes())
			resources[string(s.Resource)] = res
		}
		sp := &tracepb.Span{}
		if err := protoOpts.Unmarshal(s.Data, sp); err != nil {
			return nil, invalid(source, fmt.Sprintf("span %d", i), "bad span", err)
		}
		rec, err := newSpanRec(sp, i, 0, res)
		if err != nil {
			return nil, invalid(source, fmt.Sprintf("span %d", i), "bad span", err)
		}
		if ts.id == "" {
			ts.id = rec.trace
		} else if rec.trace != ts.id {
			return nil, invalid(source, fmt.Sprintf("span %d", i), fmt.Sprintf("span of trace %s among the spans of trace %s", rec.trace, ts.id), nil)
		}
		ts.spans = append(ts.spans, rec)
	}
	// Steps are ordered by time and ties keep the spans' order; spans
	// exported by Write carry the original positions, which break ties
	// as the original file did.
	type key struct {
		start       uint64
		exact       int // 0: no original position (sorts first), 1: has one
		index, part int64
	}
	keyOf := func(s *spanRec) key {
		k := key{start: s.sp.GetStartTimeUnixNano()}
		if idx, ok := s.attrs.int(attrIndex); ok {
			k.exact, k.index = 1, idx
			k.part, _ = s.attrs.int(attrPart)
		}
		return k
	}
	keys := make(map[*spanRec]key, len(ts.spans))
	for _, s := range ts.spans {
		keys[s] = keyOf(s)
	}
	sort.SliceStable(ts.spans, func(i, j int) bool {
		a, b := keys[ts.spans[i]], keys[ts.spans[j]]
		switch {
		case a.start != b.start:
			return a.start < b.start
		case a.exact != b.exact:
			return a.exact < b.exact
		case a.index != b.index:
			return a.index < b.index
		}
		return a.part < b.part
	})
	for i, rec := range ts.spans {
		rec.ord = i
	}
	return buildTrace(source, ts)
}

// ResourceSpansJSON returns s as an OTLP/JSON ResourceSpans holding just
// it, with hex ids as the specification writes them: a stored span
// exported again, for tools and tests.
func ResourceSpansJSON(s Span) ([]byte, error) {
	r := &resourcepb.Resource{}
	if err := protoOpts.Unmarshal(s.Resource, r); err != nil {
		return nil, fmt.Errorf("decode resource: %w", err)
	}
	sp := &tracepb.Span{}
	if err := protoOpts.Unmarshal(s.Data, sp); err != nil {
		return nil, fmt.Errorf("decode span: %w", err)
	}
	sp.TraceId, sp.SpanId, sp.ParentSpanId = hexAsBase64(sp.TraceId), hexAsBase64(sp.SpanId), hexAsBase64(sp.ParentSpanId)
	rs := &tracepb.ResourceSpans{Resource: r, ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}
	return jsonOpts.Marshal(rs)
}
