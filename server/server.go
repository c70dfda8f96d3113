// Package server is `probity serve`: it receives OpenTelemetry spans
// (OTLP/HTTP with protobuf or JSON, gzip; OTLP/gRPC), stores them durably,
// assembles traces in the store, analyses every finished trace with the
// same analysis.Analyzer as `probity analyze`, keeps the reports, and
// serves them over a JSON API with feedback, health, readiness and
// Prometheus metrics.
//
// The server is an embeddable component (New, Run, Stop) so tests start
// the whole thing in-process on 127.0.0.1:0. It keeps no state of its own
// beyond queues: several replicas may share one PostgreSQL database, any
// replica may receive any span, and each ready trace is analysed by one
// replica (the store's claims).
//
// Promises:
//
//   - An export is acknowledged (HTTP 2xx, gRPC OK) only once its spans
//     are durable in the store.
//   - Overload is refused, not buffered: requests in flight are bounded by
//     bytes (Options.IngestBytes); past it the answer is 429 /
//     RESOURCE_EXHAUSTED with a retry delay, as the OTLP specification
//     asks, so memory stays bounded however fast clients send.
//   - A payload that cannot be decoded gets 400 / INVALID_ARGUMENT with the
//     reason; bad spans in a good request are reported as OTLP partial
//     success and the rest is kept.
//   - Listening beyond loopback requires bearer tokens (Options.Tokens).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store"
)

// Options configure a Server. Store and Analyzer are required.
type Options struct {
	Store    store.Store
	Analyzer *analysis.Analyzer
	// Monitor, when set, receives every saved analysis.
	Monitor MonitorSink
	// MonitorState turns the monitors on: it keeps their series, alerts,
	// notification outbox and the queue of observations (see monitors).
	// Monitors is the monitors file's configuration; nil runs the
	// defaults. NotifyClient sends webhooks (nil: a default client);
	// ExternalURL is how receivers reach this server, for links in
	// alerts.
	MonitorState MonitorState
	Monitors     *monitor.Config
	NotifyClient *http.Client
	ExternalURL  string
	// UI, when set, serves the web pages at "/" on the API address (the
	// ui package); it gets the same read scope as the API.
	UI http.Handler
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Registerer and Gatherer hold the metrics; nil means a new registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Listen is the API address; OTLPHTTP and OTLPGRPC the OTLP
	// receivers' ("" turns a receiver off; port 0 picks a free port).
	Listen, OTLPHTTP, OTLPGRPC string
	// Tokens, when set, are required on every endpoint but /healthz and
	// /readyz. Without them every address must be loopback.
	Tokens *Tokens

	// TraceIdle is the quiet period after which a trace whose root span
	// ended is analysed (default 10s); OrphanIdle the one for a trace
	// whose root never arrived (default 6 × TraceIdle).
	TraceIdle, OrphanIdle time.Duration
	// Lease is how long an analysis may take before another replica may
	// take the trace over (default 1m).
	Lease time.Duration
	// Workers analyse traces in parallel (default 2).
	Workers int
	// Poll is how often ready traces are looked for (default TraceIdle/10,
	// at most 1s).
	Poll time.Duration
	// IngestBytes bounds the bytes of export requests read and not yet
	// durable (default 64 MiB).
	IngestBytes int64
	// Retain deletes traces with no new span for this long (0 keeps them);
	// SweepEvery is how often (default 10m).
	Retain, SweepEvery time.Duration
}

// Server is a running `probity serve`.
type Server struct {
	o        Options
	log      *slog.Logger
	m        *metrics
	budget   *budget
	ingest   *ingester
	stopping chan struct{}
	ready    atomic.Bool

	apiLn, httpLn, grpcLn net.Listener
	grpc                  *grpc.Server

	mon *monitors // nil when monitors are off

	stopOnce sync.Once
	cancel   context.CancelFunc
	mu       sync.Mutex
}

// New checks o, fills defaults and opens the listeners, so the addresses
// are known (Addr) before Run.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Analyzer == nil {
		return nil, errors.New("server: Options.Store and Options.Analyzer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil || o.Gatherer == nil {
		reg := prometheus.NewRegistry()
		o.Registerer, o.Gatherer = reg, reg
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TraceIdle <= 0 {
		o.TraceIdle = 10 * time.Second
	}
	if o.OrphanIdle <= 0 {
		o.OrphanIdle = 6 * o.TraceIdle
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Poll <= 0 {
		o.Poll = min(o.TraceIdle/10, time.Second)
	}
	if o.IngestBytes <= 0 {
		o.IngestBytes = 64 << 20
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 10 * time.Minute
	}
	if o.Tokens == nil {
		for _, a := range []string{o.Listen, o.OTLPHTTP, o.OTLPGRPC} {
			if a != "" && !isLoopback(a) {
				return nil, probity.Errorf(probity.EINVALID, "address %s is not loopback: pass --token-file to accept clients from the network", a)
			}
		}
	}
	s := &Server{o: o, log: o.Logger.With("component", "serve"), stopping: make(chan struct{})}
	s.m = newMetrics(o.Registerer)
	if o.MonitorState != nil {
		s.mon = &monitors{s: s, register: true}
	}
	s.budget = &budget{limit: o.IngestBytes, gauge: s.m.queueBytes}
	s.ingest = newIngester(o.Store, o.Logger.With("component", "ingest"), s.m, 1024)
	listen := func(what, addr string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, probity.Errorf(probity.EINVALID, "%s: listen on %s: %v", what, addr, err)
		}
		return ln, nil
	}
	var err error
	if s.apiLn, err = listen("--listen", o.Listen); err != nil {
		return nil, err
	}
	if s.httpLn, err = listen("--otlp-http", o.OTLPHTTP); err != nil {
		s.closeListeners()
		return nil, err
	}
	if s.grpcLn, err = listen("--otlp-grpc", o.OTLPGRPC); err != nil {
		s.closeListeners()
		return nil, err
	}
	return s, nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.apiLn, s.httpLn, s.grpcLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Addr is the API's address ("" when off).
func (s *Server) Addr() string { return addrOf(s.apiLn) }

// OTLPHTTPAddr is the OTLP/HTTP receiver's address ("" when off).
func (s *Server) OTLPHTTPAddr() string { return addrOf(s.httpLn) }

// OTLPGRPCAddr is the OTLP/gRPC receiver's address ("" when off).
func (s *Server) OTLPGRPCAddr() string { return addrOf(s.grpcLn) }

// Run serves until ctx ends or Stop is called, then shuts down in order:
// it stops taking requests, lets those in flight finish (their spans are
// written), then stops the writers and the analysers. It returns the first
// listener error, or nil after a clean stop.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	defer cancel()

	writerCtx, stopWriter := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.ingest.run(writerCtx)
	}()
	workCtx, stopWork := context.WithCancel(context.Background())
	var work sync.WaitGroup
	work.Add(2)
	go func() { defer work.Done(); s.analyseLoop(workCtx) }()
	go func() { defer work.Done(); s.sweepLoop(workCtx) }()
	if s.mon != nil {
		work.Go(func() { s.mon.loop(workCtx) })
	}

	errc := make(chan error, 3)
	var servers []*http.Server
	serveHTTP := func(ln net.Listener, h http.Handler) {
		if ln == nil {
			return
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	serveHTTP(s.apiLn, s.apiHandler())
	if s.httpLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/v1/traces", s.requireScope(ScopeIngest, s.handleOTLPHTTP("http")))
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, probity.Errorf(probity.ENOTFOUND, "no such endpoint: %s (OTLP/HTTP traces are POSTed to /v1/traces)", r.URL.Path))
		})
		serveHTTP(s.httpLn, mux)
	}
	if s.grpcLn != nil {
		s.grpc = s.newGRPCServer()
		go func() {
			if err := s.grpc.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- err
			}
		}()
	}
	s.ready.Store(true)
	s.log.Info("serving", "api", s.Addr(), "otlp_http", s.OTLPHTTPAddr(), "otlp_grpc", s.OTLPGRPCAddr(), "trace_idle", s.o.TraceIdle)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.ready.Store(false)
	// In-flight exports finish: their spans are still written.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	for _, srv := range servers {
		srv.Shutdown(sctx)
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-sctx.Done():
			s.grpc.Stop()
		}
	}
	scancel()
	close(s.stopping)
	stopWriter()
	<-writerDone
	stopWork()
	work.Wait()
	s.log.Info("stopped")
	return runErr
}

// Stop makes Run return (after its orderly shutdown).
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		} else {
			s.closeListeners()
		}
	})
}

// String describes the server's addresses, for logs.
func (s *Server) String() string {
	return fmt.Sprintf("probity serve (api %s, otlp/http %s, otlp/grpc %s)", s.Addr(), s.OTLPHTTPAddr(), s.OTLPGRPCAddr())
}
