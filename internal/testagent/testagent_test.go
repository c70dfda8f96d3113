package testagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestPassFrequency: over many trials the agent answers right at the rate
// the case sets, shifted by Delta, and different seeds give different draws.
func TestPassFrequency(t *testing.T) {
	for _, tc := range []struct {
		p, delta, want float64
	}{{0.3, 0, 0.3}, {0.9, 0, 0.9}, {0.9, -0.2, 0.7}, {0.1, -0.5, 0}} {
		a := &Agent{Seed: 7, Delta: tc.delta}
		const n = 20000
		right := 0
		for trial := range n {
			r, f := a.Decide(Request{ID: fmt.Sprintf("case-%d", trial%50), Trial: trial / 50, Input: Input{Answer: ptr("x"), P: ptr(tc.p)}})
			if f != FailNone {
				t.Fatalf("unexpected failure %q", f)
			}
			if r.Output["answer"] == "x" {
				right++
			}
		}
		got := float64(right) / n
		if tol := 4 * math.Sqrt(tc.want*(1-tc.want)/n); math.Abs(got-tc.want) > tol+1e-12 {
			t.Errorf("p %v delta %v: right %.4f of the time, want %.4f ± %.4f", tc.p, tc.delta, got, tc.want, tol)
		}
	}
	a, b := &Agent{Seed: 1}, &Agent{Seed: 2}
	same := 0
	for trial := range 200 {
		if (a.uniform("c", trial, 0) < 0.5) == (b.uniform("c", trial, 0) < 0.5) {
			same++
		}
	}
	if same > 130 || same < 70 {
		t.Errorf("seeds 1 and 2 agree on %d of 200 coin flips, want about 100", same)
	}
}

func TestHTTPFailures(t *testing.T) {
	srv := httptest.NewServer(&Agent{})
	defer srv.Close()
	post := func(in string) (*http.Response, error) {
		return http.Post(srv.URL, "application/json", strings.NewReader(`{"id": "a", "trial": 0, "input": `+in+`}`))
	}
	for _, tc := range []struct {
		in     string
		status int
	}{{`{"error": "500"}`, 500}, {`{"error": "garbage"}`, 200}, {`{"answer": "y"}`, 200}, {`{"error": "429"}`, 429}, {`{"error": "429"}`, 200}} {
		resp, err := post(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.in, resp.StatusCode, tc.status)
		}
	}
	if _, err := post(`{"error": "crash"}`); err == nil {
		t.Errorf("crash: the connection was not dropped")
	}
}

func TestRunExec(t *testing.T) {
	var out, errOut bytes.Buffer
	a := &Agent{}
	in := `{"id": "a", "trial": 3, "input": {"answer": "y", "tools": ["lookup", "refund"]}}`
	if err := a.RunExec(context.Background(), strings.NewReader(in), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var r Reply
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Output["answer"] != "y" || len(r.Trace) != 6 {
		t.Errorf("reply = %+v, want answer y and a 6-message trace", r)
	}
	err := a.RunExec(context.Background(), strings.NewReader(`{"id": "a", "input": {"error": "crash"}}`), &out, &errOut)
	if !errors.Is(err, ErrCrash) || !strings.Contains(errOut.String(), "segmentation fault") {
		t.Errorf("crash: err %v, stderr %q", err, errOut.String())
	}
}
