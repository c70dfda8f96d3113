package eval

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpTarget POSTs each trial to a URL and reads JSON back.
type httpTarget struct {
	spec   *HTTPTargetSpec
	client *http.Client
	header http.Header
}

// maxReply bounds how much of a reply is read: a runaway target must not
// exhaust memory.
const maxReply = 32 << 20

var replyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newHTTPTarget(spec *HTTPTargetSpec, concurrency int, opts Options) *httpTarget {
	client := opts.HTTPClient
	if client == nil {
		// One idle connection per concurrent trial, so a high-concurrency run
		// reuses connections instead of paying a handshake per trial.
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency + 16,
			MaxIdleConnsPerHost: concurrency + 16,
			IdleConnTimeout:     90 * time.Second,
		}
		client = &http.Client{Transport: tr}
	}
	client = withSameOriginRedirects(client)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	for k, v := range spec.Headers {
		h.Set(k, expandEnv(v))
	}
	return &httpTarget{spec: spec, client: client, header: h}
}

// CloseIdleConnections releases the connection pool when a run ends, so a
// finished run holds no sockets or buffers.
func (t *httpTarget) CloseIdleConnections() { t.client.CloseIdleConnections() }

func (t *httpTarget) Run(ctx context.Context, req Request) (*Output, error) {
	body, err := requestBody(t.spec.Request, req)
	if err != nil {
		return nil, err
	}
	method := t.spec.Method
	if method == "" {
		method = http.MethodPost
	}
	hr, err := http.NewRequestWithContext(ctx, method, t.spec.URL, bytes.NewReader(body))
	if err != nil {
		return nil, targetErr("transport", "%v", err)
	}
	hr.Header = t.header.Clone()
	resp, err := t.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		if errors.Is(err, errCrossOrigin) {
			return nil, targetErr("http", "%v", unwrapURLError(err))
		}
		return nil, targetErr("transport", "%v", unwrapURLError(err))
	}
	defer resp.Body.Close()
	// A pooled buffer: parseReply copies what it keeps (decoded values and
	// strings), so the reply's bytes are free again once it returns.
	rb := replyBufs.Get().(*bytes.Buffer)
	defer func() {
		if rb.Cap() <= 1<<20 { // a huge reply's buffer is not kept
			replyBufs.Put(rb)
		}
	}()
	rb.Reset()
	// One byte past the limit tells a reply at the limit from one over it.
	_, err = rb.ReadFrom(io.LimitReader(resp.Body, maxReply+1))
	reply := rb.Bytes()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, targetErr("transport", "read reply: %v", err)
	}
	if len(reply) > maxReply {
		return nil, targetErr("garbage", "reply over the size limit of %d MiB; not read further", maxReply>>20)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return nil, &retryable{TargetError: targetErr("http", "HTTP %d: %s", resp.StatusCode, clip(string(bytes.TrimSpace(reply)), 200)),
			after: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case resp.StatusCode >= 300:
		return nil, targetErr("http", "HTTP %d: %s", resp.StatusCode, clip(string(bytes.TrimSpace(reply)), 200))
	}
	return parseReply(reply, t.spec.Response)
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// ctxErr reports why a trial's context ended: its own deadline (a timeout,
// which is the target's fault) or the run being cancelled.
func ctxErr(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errTrialTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return targetErr("timeout", "no answer within the trial timeout")
	}
	return targetErr("canceled", "run canceled")
}

var errTrialTimeout = errors.New("trial timeout")
