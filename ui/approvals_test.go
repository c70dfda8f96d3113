package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// TestApprovalsPage: a call a real guard holds (its approvals in the
// server's store) is listed on the page and answered with the page's form,
// which needs the guard's approver token and a same-origin post; the guard
// that holds the call learns the answer from the store.
func TestApprovalsPage(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := policy.Parse([]byte(`
rules:
  - name: confirm-big-refund
    tools: [refund]
    action: approve
    when: 'args.amount > 200'
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Options{Policy: p, Ledger: st.GuardState(), Approvals: st.GuardState(), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const token = "0123456789abcdef0123456789abcdef"
	pages, err := ui.New(ui.Options{Store: st, Approvals: st.GuardState(), ApproverToken: func() (string, error) { return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: pages}
	ln := listen(t)
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	hold := func(args string) (<-chan guard.Decision, string) {
		t.Helper()
		out := make(chan guard.Decision, 1)
		go func() {
			v, err := g.Check(ctx, guard.Call{Run: "conv-7", Tool: "refund", Args: []byte(args)})
			if err != nil {
				t.Error(err)
			}
			out <- v
		}()
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
			if list := g.Approvals(guard.StatusPending); len(list) == 1 {
				return out, list[0].ID
			}
		}
		t.Fatal("the call was never held")
		return nil, ""
	}
	out, id := hold(`{"amount": 300, "note": "<script>alert(1)</script>"}`)

	resp, body := get(t, base+"/approvals")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /approvals = %d", resp.StatusCode)
	}
	for _, want := range []string{id, "confirm-big-refund", "conv-7", `action="/approvals/` + id + `"`, `value="approve"`, `value="deny"`, `type="password" name="token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("approvals page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("approvals page shows the call's arguments unescaped")
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(id string, form url.Values, h map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/approvals/"+id, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location") + string(b)
	}
	same := map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	approve := url.Values{"token": {token}, "decision": {"approve"}, "by": {"alice"}, "note": {"checked"}}
	if code, _ := post(id, approve, evil); code != http.StatusForbidden {
		t.Errorf("cross-site approval = %d, want 403", code)
	}
	wrong := url.Values{"token": {"not-the-token"}, "decision": {"approve"}}
	if code, body := post(id, wrong, same); code != http.StatusForbidden || !strings.Contains(body, "approver token") {
		t.Errorf("approval without the approver token = %d, want 403 naming the token", code)
	}
	if code, _ := post(id, url.Values{"token": {token}, "decision": {"maybe"}}, same); code != http.StatusBadRequest {
		t.Errorf("approval with a bad decision = %d, want 400", code)
	}
	select {
	case v := <-out:
		t.Fatalf("the call was answered by a refused post: %+v", v)
	default:
	}
	if code, loc := post(id, approve, same); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/approvals?done=approved") {
		t.Fatalf("approval with the token = %d %q, want 303 back to the page", code, loc)
	}
	select {
	case v := <-out:
		if !v.Allowed() || !strings.Contains(v.Reason, "approved by alice") {
			t.Errorf("held call after approval on the page = %+v, want allow, approved by alice", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the guard never learnt the page's approval")
	}
	if code, _ := post(id, url.Values{"token": {token}, "decision": {"deny"}}, same); code != http.StatusConflict {
		t.Errorf("denying an approved call = %d, want 409", code)
	}

	out, id = hold(`{"amount": 500}`)
	if code, _ := post(id, url.Values{"token": {token}, "decision": {"deny"}}, same); code != http.StatusSeeOther {
		t.Fatalf("denial = %d, want 303", code)
	}
	select {
	case v := <-out:
		if v.Decision != "deny" || !strings.Contains(v.Reason, "denied by web UI") {
			t.Errorf("held call after denial on the page = %+v, want deny by web UI", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the guard never learnt the page's denial")
	}
	_, body = get(t, base+"/approvals")
	if !strings.Contains(body, "No call is waiting") || !strings.Contains(body, "Recently answered") || !strings.Contains(body, "alice") {
		t.Errorf("approvals page after both answers does not list them as answered:\n%s", body)
	}
}

// TestApprovalsPageNoToken: without the approver token the page lists the
// held calls but offers no form, and a post is refused.
func TestApprovalsPageNoToken(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.GuardState().AddApproval(ctx, guard.Approval{ID: "ap_1", Status: guard.StatusPending, Run: "r", Tool: "refund",
		Rule: "big", Created: now, Deadline: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	pages, err := ui.New(ui.Options{Store: st, Approvals: st.GuardState(),
		ApproverToken: func() (string, error) { return "", io.ErrUnexpectedEOF }})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: pages}
	ln := listen(t)
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	_, body := get(t, base+"/approvals")
	if !strings.Contains(body, "ap_1") || strings.Contains(body, `name="token"`) || !strings.Contains(body, "needs the guard's approver token") {
		t.Errorf("page without a token: want the approval listed, no form, and why:\n%s", body)
	}
	resp, err := http.PostForm(base+"/approvals/ap_1", url.Values{"token": {""}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("post without a configured token = %d, want 403", resp.StatusCode)
	}
	if a, _ := st.GuardState().Approval(ctx, "ap_1"); a.Status != guard.StatusPending {
		t.Errorf("approval after a refused post = %s, want pending", a.Status)
	}
}
