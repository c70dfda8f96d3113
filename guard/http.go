package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/probity/probity"
)

// maxBody bounds a request body: a long conversation sent as messages fits;
// a hostile client cannot exhaust memory.
const maxBody = 16 << 20

// Handler returns the HTTP decision service of g:
//
//	POST /v1/decide                 {"run","tool","args","call_id"?,"messages"?,"wait"?}
//	                                -> Decision {"decision": "allow"|"deny"|"approve", "rule", "message", ...}
//	POST /v1/result                 {"run","call_id","tool","content","error"}: a call's outcome
//	POST /v1/message                {"run","role","content"}: a conversation message
//	GET  /v1/approvals[?status=pending]
//	GET  /v1/approvals/{id}[?wait=30s]
//	POST /v1/approvals/{id}/approve {"by","note"}
//	POST /v1/approvals/{id}/deny    {"by","note"}
//	GET  /v1/shadow                 {"would_block": {"rule": count}}
//	GET  /healthz
//
// With "wait": true, /v1/decide holds an "approve" decision until it is
// resolved and answers allow or deny. Errors are {"error": {"code",
// "message"}} with the status mapped from the error code once, here.
//
// opts says who may call what (see HTTPOptions): listing and resolving
// approvals needs the approver token, and requests from a browser on
// another origin or under a non-loopback host name are refused (401 and
// 403, codes "unauthorized" and "forbidden").
func Handler(g *Guard, opts HTTPOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/decide", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Call
			Wait bool `json:"wait"`
		}
		if !decode(w, r, &req) {
			return
		}
		var v Decision
		var err error
		if req.Wait {
			v, err = g.Check(r.Context(), req.Call)
		} else {
			v, err = g.Decide(r.Context(), req.Call)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /v1/result", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Run     string `json:"run"`
			CallID  string `json:"call_id"`
			Tool    string `json:"tool"`
			Content string `json:"content"`
			Error   bool   `json:"error"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.CallID == "" && req.Tool == "" {
			writeError(w, probity.Errorf(probity.EINVALID, "result needs call_id or tool"))
			return
		}
		g.Result(req.Run, req.CallID, req.Tool, req.Content, req.Error)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /v1/message", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Run     string `json:"run"`
			Role    string `json:"role"`
			Content string `json:"content"`
		}
		if !decode(w, r, &req) {
			return
		}
		if err := g.Say(req.Run, req.Role, req.Content); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /v1/approvals", func(w http.ResponseWriter, r *http.Request) {
		list, err := g.ListApprovals(r.Context(), r.URL.Query().Get("status"))
		if err != nil {
			writeError(w, err)
			return
		}
		if list == nil {
			list = []Approval{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"approvals": list})
	})
	mux.HandleFunc("GET /v1/approvals/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if ws := r.URL.Query().Get("wait"); ws != "" {
			d, err := time.ParseDuration(ws)
			if err != nil {
				writeError(w, probity.Errorf(probity.EINVALID, "wait: %v", err))
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			_, err = g.Wait(ctx, id)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				writeError(w, err)
				return
			}
		}
		a, err := g.Approval(id)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	resolve := func(approve bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				By   string `json:"by"`
				Note string `json:"note"`
			}
			if r.ContentLength != 0 && !decode(w, r, &req) {
				return
			}
			a, err := g.approvals.resolve(r.PathValue("id"), approve, req.By, req.Note)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, a)
		}
	}
	mux.HandleFunc("POST /v1/approvals/{id}/approve", resolve(true))
	mux.HandleFunc("POST /v1/approvals/{id}/deny", resolve(false))
	mux.HandleFunc("GET /v1/shadow", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"mode": g.p.Mode, "would_block": g.ShadowReport()})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return newAccess(opts, mux)
}

// Serve serves Handler(g, opts) on ln until ctx is done, then shuts down
// gracefully (requests in flight get 5 seconds).
func Serve(ctx context.Context, ln net.Listener, g *Guard, opts HTTPOptions) error {
	srv := &http.Server{Handler: Handler(g, opts), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The grace period is over: what is still open (a held
			// approval, a connection that never sent a request) is cut,
			// as documented; that is the stop asked for, not a failure.
			srv.Close()
			return nil
		}
		return fmt.Errorf("guard server shutdown: %w", err)
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		pe := &probity.Error{Code: probity.EINVALID, Message: "request body", Err: err}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			pe.Where = fmt.Sprintf("offset %d", se.Offset)
		case errors.As(err, &te):
			pe.Where = fmt.Sprintf("offset %d", te.Offset)
		}
		writeError(w, pe)
		return false
	}
	return true
}

// statusOf maps error codes to HTTP statuses: the one place it happens.
var statusOf = map[string]int{
	probity.EINVALID:  http.StatusBadRequest,
	probity.ENOTFOUND: http.StatusNotFound,
	probity.ECONFLICT: http.StatusConflict,
	probity.ETIMEOUT:  http.StatusGatewayTimeout,
	probity.EINTERNAL: http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	var b errorBody
	b.Error.Code, b.Error.Message = errCode(err), err.Error()
	st, ok := statusOf[b.Error.Code]
	if !ok {
		st = http.StatusInternalServerError
	}
	writeJSON(w, st, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Client talks to a guard server (probity guard serve).
type Client struct {
	// BaseURL is the server's address, e.g. "http://127.0.0.1:8700".
	BaseURL string
	// Token, when set, is sent as a bearer token: the client token for a
	// server that requires one, the approver token to list and resolve
	// approvals.
	Token string
	// HTTP is the client to use (default http.DefaultClient).
	HTTP *http.Client
}

// Decide asks the server to decide c (POST /v1/decide); wait holds an
// approve decision until it is resolved.
func (c *Client) Decide(ctx context.Context, call Call, wait bool) (Decision, error) {
	var v Decision
	body := struct {
		Call
		Wait bool `json:"wait,omitempty"`
	}{call, wait}
	err := c.do(ctx, http.MethodPost, "/v1/decide", body, &v)
	return v, err
}

// Approvals lists approvals with status ("" for all).
func (c *Client) Approvals(ctx context.Context, status string) ([]Approval, error) {
	var out struct {
		Approvals []Approval `json:"approvals"`
	}
	p := "/v1/approvals"
	if status != "" {
		p += "?status=" + status
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out.Approvals, err
}

// Resolve approves or denies approval id.
func (c *Client) Resolve(ctx context.Context, id string, approve bool, by, note string) (Approval, error) {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	var a Approval
	err := c.do(ctx, http.MethodPost, "/v1/approvals/"+id+"/"+verb, map[string]string{"by": by, "note": note}, &a)
	return a, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("guard client: encode: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return &probity.Error{Code: probity.EINVALID, Message: "guard server address", Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("guard server %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("guard server %s: read: %w", c.BaseURL, err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return &probity.Error{Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return fmt.Errorf("guard server %s: %s: %s", c.BaseURL, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("guard server %s: decode: %w", c.BaseURL, err)
	}
	return nil
}
