package server

import (
	"context"
	"fmt"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/store"
)

// rawRequest is an export request kept in wire format: the gRPC receiver
// splits it with otlp.SplitProto exactly as OTLP/HTTP does, instead of
// decoding it into Go structs and encoding each span again.
type rawRequest struct{ b []byte }

// rawCodec is the "proto" codec, except that it hands a rawRequest its
// bytes undecoded.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("grpc codec: cannot encode %T", v)
	}
	return proto.Marshal(m)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch m := v.(type) {
	case *rawRequest:
		// gRPC may reuse data after this returns.
		m.b = append(m.b[:0], data...)
		return nil
	case proto.Message:
		return proto.Unmarshal(data, m)
	}
	return fmt.Errorf("grpc codec: cannot decode into %T", v)
}

var _ encoding.Codec = rawCodec{}

// traceServiceDesc is OTLP's TraceService with a handler that takes the
// request in wire format.
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := &rawRequest{}
			if err := dec(in); err != nil {
				return nil, err
			}
			s := srv.(*Server)
			if interceptor == nil {
				return s.exportGRPC(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/opentelemetry.proto.collector.trace.v1.TraceService/Export"}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return s.exportGRPC(ctx, req.(*rawRequest))
			})
		},
	}},
	Metadata: "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

func (s *Server) newGRPCServer() *grpc.Server {
	srv := grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		// Bounds the requests held in memory at once, with the budget.
		grpc.MaxConcurrentStreams(64),
		grpc.UnaryInterceptor(s.grpcAuth),
	)
	srv.RegisterService(&traceServiceDesc, s)
	return srv
}

func (s *Server) grpcAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if s.o.Tokens != nil {
		md, _ := metadata.FromIncomingContext(ctx)
		tok := ""
		if v := md.Get("authorization"); len(v) > 0 {
			tok = bearer(v[0])
		}
		if !s.o.Tokens.allows(tok, ScopeIngest) {
			s.m.requests.WithLabelValues("grpc", "unauthorized").Inc()
			return nil, status.Error(grpcCode(&probity.Error{Code: codeUnauthorized}), "a bearer token with the ingest scope is required")
		}
	}
	return h(ctx, req)
}

// exportGRPC is TraceService/Export: OK only once every accepted span is
// durable; INVALID_ARGUMENT for a request it cannot decode (OK with
// partial_success when only some spans are bad); RESOURCE_EXHAUSTED with
// a RetryInfo delay when its ingest budget is spent; UNAVAILABLE when the
// store fails.
func (s *Server) exportGRPC(ctx context.Context, in *rawRequest) (*coltrace.ExportTraceServiceResponse, error) {
	held := int64(len(in.b))
	if !s.budget.take(held) {
		return nil, s.grpcError(errOverloaded)
	}
	release := func() { s.budget.give(held) }
	spans := make([]store.Span, 0, 64)
	split, err := otlp.SplitProto(in.b, func(sp *otlp.Span) { spans = append(spans, toStore(sp)) })
	if err != nil {
		release()
		s.m.spansRejected.Add(float64(split.Rejected))
		return nil, s.grpcError(&probity.Error{Code: probity.EINVALID, Message: "bad export request", Err: err})
	}
	extra := int64(len(spans)) * spanOverhead
	if !s.budget.grow(held, extra) {
		release()
		return nil, s.grpcError(errOverloaded)
	}
	held += extra
	resp, err := s.accept(ctx, "grpc", spans, split, release)
	if err != nil {
		return nil, s.grpcError(err)
	}
	return resp, nil
}

func (s *Server) grpcError(err error) error {
	code := errorCode(err)
	s.m.requests.WithLabelValues("grpc", outcome(code)).Inc()
	msg := err.Error()
	c := grpcCode(err)
	if code == probity.EINTERNAL {
		s.log.Error("otlp export", "err", err)
		msg = "internal error"
	}
	st := status.New(c, msg)
	if code == codeOverloaded || code == codeUnavailable {
		// OTLP exporters retry RESOURCE_EXHAUSTED only with RetryInfo.
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfterSeconds * time.Second)}); err == nil {
			st = d
		}
	}
	return st.Err()
}
