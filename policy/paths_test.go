package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/probity/probity/policy"
)

func TestPathFunctions(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		// path.clean and path.base see the file the server opens.
		{`path.clean(".env/.") == ".env"`, true},
		{`path.clean("/srv/data//sub/../.env/") == "/srv/data/.env"`, true},
		{`path.clean("./.env") == ".env"`, true},
		{`path.clean("a\\b\\..\\.env") == "a/.env"`, true},
		{`path.clean("") == "."`, true},
		{`path.base("/srv/data/.env/.") == ".env"`, true},
		{`path.base("sub/../.ENV").lowerAscii() == ".env"`, true},
		{`path.base("/") == ""`, true},
		{`path.base("cafe\u0301.txt") == "caf\u00e9.txt"`, true}, // NFC, as the server matches names
		// path.within resolves relative paths against the root.
		{`path.within("/srv/data/a/b.txt", "/srv/data")`, true},
		{`path.within("/srv/data", "/srv/data/")`, true},
		{`path.within("/srv/database/x", "/srv/data")`, false},
		{`path.within("/srv/data/../etc/passwd", "/srv/data")`, false},
		{`path.within("a/../../etc/passwd", "/srv/data")`, false},
		{`path.within("notes/a.txt", "/srv/data")`, true},
		{`path.within("~/x", "/srv/data")`, false},
		{`path.within("/anything", "/")`, true},
		// path.match: ** spans elements, * and ? stay inside one.
		{`path.match("/home/u/.ssh/id_rsa", "**/.ssh/**")`, true},
		{`path.match(".ssh", "**/.ssh/**")`, true},
		{`path.match("/home/u/.sshx/id_rsa", "**/.ssh/**")`, false},
		{`path.match("a/b/c.pem", "**/*.pem")`, true},
		{`path.match("c.pem", "**/*.pem")`, true},
		{`path.match("/x/y/id_rsa.pub", "id_rsa*")`, true}, // no "/": the base name
		{`path.match("/srv/data/x.txt", "/srv/*/x.txt")`, true},
		{`path.match("/srv/a/b/x.txt", "/srv/*/x.txt")`, false},
		{`path.match("a/.env/.", "**/.env")`, true},
	}
	for _, tt := range tests {
		p := mustParse(t, "rules:\n  - name: r\n    deny: '"+escapeYAML(tt.expr)+"'\n")
		d := p.Decide(context.Background(), p.NewSession("r", nil), call("write_file", `{}`))
		if got := d.Effect == policy.Deny; got != tt.want || len(d.Matches) > 0 && d.Matches[0].Error != "" {
			t.Errorf("%s = %v (%+v), want %v", tt.expr, got, d.Matches, tt.want)
		}
	}
	// A malformed glob is an error: the rule fails closed.
	p := mustParse(t, "rules:\n  - name: r\n    deny: 'path.match(\"a\", \"[\")'\n")
	if d := p.Decide(context.Background(), p.NewSession("r", nil), call("write_file", `{}`)); d.Effect != policy.Deny || d.Matches[0].Error == "" {
		t.Errorf("bad glob: %+v, want a fail-closed deny", d)
	}
}

func escapeYAML(s string) string {
	out := ""
	for _, r := range s {
		if r == '\'' {
			out += "''"
		} else {
			out += string(r)
		}
	}
	return out
}

// TestPathsVariable: paths holds every path-like argument, so one rule
// covers read_multiple_files' list and move_file's source and destination.
func TestPathsVariable(t *testing.T) {
	p := mustParse(t, `
rules:
  - name: no-secrets
    deny: 'paths.exists(p, path.base(p).lowerAscii().startsWith(".env"))'
`)
	tests := []struct {
		tool, args string
		deny       bool
	}{
		{"read_text_file", `{"path": ".env/."}`, true},
		{"read_multiple_files", `{"paths": ["a.txt", "sub/../.env"]}`, true},
		{"read_media_file", `{"path": "/srv/.ENV"}`, true},
		{"move_file", `{"source": ".env", "destination": "notes.txt"}`, true},
		{"move_file", `{"source": "notes.txt", "destination": "x/.env.local"}`, true},
		{"edit_file", `{"path": "a//.env", "edits": [{"oldText": "a", "newText": "b"}]}`, true},
		{"copy", `{"options": {"targetDir": "/x/.env"}}`, true},           // nested, by suffix
		{"write_file", `{"path": "notes.txt", "content": ".env"}`, false}, // content is not a path
		{"search_files", `{"path": ".", "pattern": "*.env"}`, false},      // a pattern is not a path
		{"read_multiple_files", `{"paths": ["a.txt", "b/c.md"]}`, false},
	}
	for _, tt := range tests {
		d := p.Decide(context.Background(), p.NewSession("r", nil), call(tt.tool, tt.args))
		if (d.Effect == policy.Deny) != tt.deny {
			t.Errorf("%s %s: %s (%s), want deny=%v", tt.tool, tt.args, d.Effect, d.Reason, tt.deny)
		}
	}
	for key, want := range map[string]bool{"path": true, "paths": true, "source": true, "destination": true,
		"file_path": true, "sourcePath": true, "output-dir": true, "content": false, "pattern": false, "edits": false, "excludePatterns": false} {
		if got := policy.PathLike(key); got != want {
			t.Errorf("PathLike(%q) = %v, want %v", key, got, want)
		}
	}
}

// FuzzPaths: the path functions never panic, cleaning is idempotent, and a
// clean path is within itself.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{".env/.", "a//b/../.env", `a\..\..\b`, "~/x", "/", "", "**/[a-", "caf\u00e9/x"} {
		f.Add(s, "**/.env")
	}
	f.Fuzz(func(t *testing.T, p, glob string) {
		c := policy.CleanPath(p)
		if c2 := policy.CleanPath(c); c2 != c {
			t.Errorf("CleanPath(%q) = %q, but CleanPath of that = %q", p, c, c2)
		}
		// A relative path is relative to the root, so "." is the root;
		// an absolute one is within itself.
		if strings.HasPrefix(c, "/") && !policy.Within(c, c) || !strings.HasPrefix(c, "~") && !policy.Within(".", c) {
			t.Errorf("Within(%q, itself) or Within(\".\", %q) = false", c, c)
		}
		policy.MatchPath(p, glob)
	})
}
