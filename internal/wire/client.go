package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls a model API over HTTP: the small client the product uses
// (eval targets, LLM judges) in place of the official SDKs, which cost the
// binary tens of megabytes and the first build minutes. It retries 429 and
// 5xx answers with backoff (honouring Retry-After), bounds each attempt
// with a timeout, and streams server-sent events. The official SDKs remain
// the real clients in tests, where they prove the proxy and replay are
// compatible with them.
type Client struct {
	// API is APIChat (OpenAI and compatible) or APIMessages (Anthropic);
	// it sets the endpoint and how the key is sent.
	API API
	// BaseURL is the API's base: https://api.openai.com/v1 for Chat (the
	// default), https://api.anthropic.com for Messages (the default), or a
	// compatible server's.
	BaseURL string
	// APIKey is sent as a bearer token (Chat) or x-api-key (Messages).
	APIKey string
	// HTTP sends the requests; nil uses http.DefaultClient.
	HTTP *http.Client
	// MaxRetries is how often a 429, a 5xx or a transport failure is
	// retried; 0 means never (the caller retries itself).
	MaxRetries int
	// Timeout bounds one attempt until its response headers; 0 means 10
	// minutes, as model calls can be slow.
	Timeout time.Duration
}

// AnthropicVersion is the anthropic-version header the client sends.
const AnthropicVersion = "2023-06-01"

// HTTPError is a non-2xx answer from the API.
type HTTPError struct {
	Status int
	// Message is the API's error message, or the start of the body.
	Message string
	// RetryAfter is the wait the API asked for (zero when it did not).
	RetryAfter time.Duration
}

// Error says the status and the API's message.
func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// Retryable reports whether the same request may succeed later.
func (e *HTTPError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// Tool is a function the model may call (Chat API shape).
type Tool struct {
	Type     string       `json:"type"`
	Function FunctionTool `json:"function"`
}

// FunctionTool is a tool's name, description and JSON Schema parameters.
type FunctionTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  map[string]any `json:"parameters,omitempty"`
}

// ChatRequest is an OpenAI Chat Completions request.
type ChatRequest struct {
	Model               string    `json:"model"`
	Messages            []Message `json:"messages"`
	Tools               []Tool    `json:"tools,omitempty"`
	Temperature         *float64  `json:"temperature,omitempty"`
	MaxCompletionTokens int       `json:"max_completion_tokens,omitempty"`
	Stream              bool      `json:"stream,omitempty"`
}

// MessagesRequest is an Anthropic Messages request. System is a string or
// text blocks; TextBlocks makes the blocks the SDKs send.
type MessagesRequest struct {
	Model       string    `json:"model"`
	MaxTokens   int       `json:"max_tokens"`
	System      *Content  `json:"system,omitempty"`
	Messages    []Message `json:"messages"`
	Temperature *float64  `json:"temperature,omitempty"`
	Stream      bool      `json:"stream,omitempty"`
}

// Chat sends a Chat Completions request.
func (c *Client) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	var out ChatResponse
	if err := c.Do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Messages sends an Anthropic Messages request.
func (c *Client) Messages(ctx context.Context, req *MessagesRequest) (*MessagesResponse, error) {
	var out MessagesResponse
	if err := c.Do(ctx, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Question is one system-plus-user exchange with a model, the shape every
// model-graded check in Probity asks (the eval judge assertion, analyze
// --judge): one place builds it for each API.
type Question struct {
	Model       string
	System      string
	Prompt      string
	MaxTokens   int // 0: the API's default; Anthropic requires one, so 512 there
	Temperature *float64
}

// Answer is a model's text reply to a Question and what it cost.
type Answer struct {
	Text                      string
	InputTokens, OutputTokens int64
}

// Ask sends q to the client's API (Chat Completions or Messages) and
// returns the reply's text.
func (c *Client) Ask(ctx context.Context, q Question) (Answer, error) {
	if c.API == APIMessages {
		maxTok := q.MaxTokens
		if maxTok == 0 {
			maxTok = 512
		}
		resp, err := c.Messages(ctx, &MessagesRequest{Model: q.Model, MaxTokens: maxTok, Temperature: q.Temperature,
			System: TextBlocks(q.System), Messages: []Message{{Role: "user", Content: Content{Text: q.Prompt}}}})
		if err != nil {
			return Answer{}, err
		}
		var b strings.Builder
		for _, blk := range resp.Content {
			if blk.Type == "text" {
				b.WriteString(blk.Text)
			}
		}
		return Answer{Text: b.String(), InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens}, nil
	}
	resp, err := c.Chat(ctx, &ChatRequest{Model: q.Model, MaxCompletionTokens: q.MaxTokens, Temperature: q.Temperature,
		Messages: []Message{{Role: "system", Content: Content{Text: q.System}}, {Role: "user", Content: Content{Text: q.Prompt}}}})
	if err != nil {
		return Answer{}, err
	}
	if len(resp.Choices) == 0 {
		return Answer{}, errors.New("the API answered with no choices")
	}
	return Answer{Text: resp.Choices[0].Message.Text(), InputTokens: resp.Usage.PromptTokens, OutputTokens: resp.Usage.CompletionTokens}, nil
}

// Do posts req as JSON to the API's endpoint and decodes the answer into
// out, retrying as configured.
func (c *Client) Do(ctx context.Context, req, out any) error {
	resp, err := c.post(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", c.url(), err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the answer is not the API's JSON: %w", c.url(), err)
	}
	return nil
}

// Stream posts req (which must ask for a stream) and calls fn with each
// server-sent event as it arrives; a non-nil error from fn stops reading.
func (c *Client) Stream(ctx context.Context, req any, fn func(Event) error) error {
	resp, err := c.post(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		raw, err := ReadEvent(br)
		if ev, ok := ParseEvent(raw); ok && len(raw) > 0 {
			if ev.Name == "error" || bytes.HasPrefix(bytes.TrimSpace(ev.Data), []byte(`{"error"`)) {
				return fmt.Errorf("%s: the stream ended with an error: %s", c.url(), clip(ev.Data))
			}
			if ferr := fn(ev); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: stream: %w", c.url(), err)
		}
	}
}

func (c *Client) url() string {
	base := strings.TrimRight(c.BaseURL, "/")
	if c.API == APIMessages {
		if base == "" {
			base = "https://api.anthropic.com"
		}
		return base + "/v1/messages"
	}
	if base == "" {
		base = "https://api.openai.com/v1"
	}
	return base + "/chat/completions"
}

// post sends req, retrying retryable failures; the caller closes the
// returned 2xx response's body.
func (c *Client) post(ctx context.Context, req any) (*http.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.attempt(ctx, hc, body, timeout)
		if err == nil {
			return resp, nil
		}
		var he *HTTPError
		retry := ctx.Err() == nil && (!errors.As(err, &he) || he.Retryable())
		if !retry || attempt >= c.MaxRetries {
			return nil, err
		}
		wait := backoff(attempt)
		if he != nil && he.RetryAfter > 0 {
			wait = min(he.RetryAfter, time.Minute)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// backoff is the wait before retry n+1: 0.5 s doubling, with jitter so
// parallel trials do not retry in step.
func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n, 6)
	return d/2 + rand.N(d/2+1)
}

func (c *Client) attempt(ctx context.Context, hc *http.Client, body []byte, timeout time.Duration) (*http.Response, error) {
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(timeout, cancel)
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.url(), bytes.NewReader(body))
	if err != nil {
		timer.Stop()
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.API == APIMessages {
		req.Header.Set("X-Api-Key", c.APIKey)
		req.Header.Set("Anthropic-Version", AnthropicVersion)
	} else if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := hc.Do(req)
	// The timeout bounds the wait for headers; the body is read under ctx.
	stopped := timer.Stop()
	if err != nil {
		cancel()
		if !stopped && ctx.Err() == nil {
			return nil, fmt.Errorf("%s: no answer within %s", c.url(), timeout)
		}
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{Status: resp.StatusCode, Message: errorMessage(b),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases the attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// errorMessage returns the message of an API error body ({"error":
// {"message"}} for both APIs), or the body's start.
func errorMessage(b []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil {
		if e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return clip(bytes.TrimSpace(b))
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Text returns the message's text: its string content or its text blocks.
func (m *Message) Text() string { return m.Content.PlainText() }

// ArgsText returns a function call's arguments as the text the model
// wrote: the JSON string's content, or the raw JSON when it is an object.
func (f *Function) ArgsText() string {
	raw := bytes.TrimSpace(f.Arguments)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// TextBlocks returns text as one text block, the shape the official SDKs
// send a system prompt in.
func TextBlocks(text string) *Content {
	return &Content{IsBlocks: true, Blocks: []Block{{Type: "text", Text: text}}}
}
