package guard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/probity/probity"
)

// Who may do what over HTTP. The agent a guard checks, and the host that
// drives it, can reach the decision API: that is its purpose. They must not
// be able to approve their own held calls, nor can a web page the user
// happens to open (a cross-origin POST, or DNS rebinding onto loopback). So:
//
//   - approving, denying and listing approvals needs the approver token, a
//     secret kept in a file only the person's account reads and never given
//     to agents (ApproverTokenFile);
//   - every /v1 request must name a loopback host (Host header) unless the
//     server requires a client token, and cross-origin browser requests
//     that change state are refused;
//   - a server listens beyond loopback only when told (CheckListen), and
//     then every request needs the client token.

// HTTPOptions says who the HTTP API serves. The zero value serves agents on
// loopback and no approver: approvals are then resolved in-process only.
type HTTPOptions struct {
	// ApproverToken lets a request bearing it ("Authorization: Bearer
	// TOKEN") list, approve and deny approvals. Empty: those endpoints
	// answer 403.
	ApproverToken string
	// ClientToken, when set, is required on every other /v1 request (the
	// approver token passes too), and the Host header is then not checked.
	// A server that listens beyond loopback must have one.
	ClientToken string
}

// MinTokenLength is the shortest token accepted: 128 bits as hex.
const MinTokenLength = 32

// TokenEnv is the environment variable that holds the client token, on the
// server (with --allow-remote) and on clients.
const TokenEnv = "PROBITY_GUARD_TOKEN"

// CheckListen refuses a listen address that is not loopback unless
// allowRemote, and then unless clientToken is set and long enough: a
// decision and approvals API open to the network without a secret lets
// anyone there decide.
func CheckListen(addr string, allowRemote bool, clientToken string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return probity.Errorf(probity.EINVALID, "listen address %q: %v", addr, err)
	}
	if isLoopbackHost(host) {
		return nil
	}
	if !allowRemote {
		return probity.Errorf(probity.EINVALID, "listen address %q is not loopback; pass --allow-remote (with a client token in $%s) to serve the network", addr, TokenEnv)
	}
	if len(clientToken) < MinTokenLength {
		return probity.Errorf(probity.EINVALID, "--allow-remote needs a client token of at least %d characters in $%s: every client must then send it", MinTokenLength, TokenEnv)
	}
	return nil
}

// isLoopbackHost reports whether host (no port) names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// DefaultApproverTokenFile is where the approver token is kept unless told
// otherwise: <user config dir>/probity/approver-token.
func DefaultApproverTokenFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("approver token: %w (give --approver-token-file)", err)
	}
	return filepath.Join(dir, "probity", "approver-token"), nil
}

// ApproverTokenFile reads the approver token in path, creating the file
// with a new random token (mode 0600, in a 0700 directory) when it does not
// exist. A file others may read is refused, as ssh refuses such a key.
// created says whether the file was made now.
func ApproverTokenFile(path string) (token string, created bool, err error) {
	token, err = ReadTokenFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("approver token: %w", err)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = hex.EncodeToString(b[:])
	// Written to a temporary file and linked into place, so that a
	// server starting at the same moment (several guards on one store)
	// never reads a file that exists but is still empty.
	f, err := os.CreateTemp(filepath.Dir(path), ".approver-token-*")
	if err != nil {
		return "", false, fmt.Errorf("approver token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err != nil {
		return "", false, fmt.Errorf("approver token %s: %w", path, err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		// Another server made it first: use theirs.
		token, err = ReadTokenFile(path)
		return token, false, err
	} else if err != nil {
		return "", false, fmt.Errorf("approver token %s: %w", path, err)
	}
	return token, true, nil
}

// ReadTokenFile reads a token file: one line, at least MinTokenLength
// characters, readable by its owner only.
func ReadTokenFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", probity.Errorf(probity.EINVALID, "token file %s is readable by others (mode %04o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < MinTokenLength || strings.ContainsAny(t, " \t\r\n") {
		return "", probity.Errorf(probity.EINVALID, "token file %s: want one token of at least %d characters", path, MinTokenLength)
	}
	return t, nil
}

// access wraps the API's handler with the checks HTTPOptions describe.
type access struct {
	opts  HTTPOptions
	cross *http.CrossOriginProtection
	next  http.Handler
}

func newAccess(opts HTTPOptions, next http.Handler) *access {
	return &access{opts: opts, cross: http.NewCrossOriginProtection(), next: next}
}

func (a *access) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		a.next.ServeHTTP(w, r)
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	approver := a.opts.ApproverToken != "" && equal(bearer, a.opts.ApproverToken)
	client := approver || (a.opts.ClientToken != "" && equal(bearer, a.opts.ClientToken))
	switch {
	case a.opts.ClientToken == "" && !isLoopbackHost(hostOnly(r.Host)):
		// A loopback server reached under another name: DNS rebinding.
		forbid(w, http.StatusForbidden, fmt.Sprintf("host %q is not this machine's loopback; refused (DNS rebinding?)", r.Host))
		return
	case a.cross.Check(r) != nil:
		forbid(w, http.StatusForbidden, "cross-origin request refused")
		return
	case a.opts.ClientToken != "" && !client:
		forbid(w, http.StatusUnauthorized, "this guard needs a client token: send Authorization: Bearer $"+TokenEnv)
		return
	case approverOnly(r) && !approver:
		msg := "approvals are resolved with the approver token, which this request does not carry (probity approvals reads it from its token file)"
		if a.opts.ApproverToken == "" {
			msg = "this server does not resolve approvals over HTTP"
		}
		forbid(w, http.StatusForbidden, msg)
		return
	}
	a.next.ServeHTTP(w, r)
}

// approverOnly reports whether r lists or resolves approvals; reading one
// approval by its id (what a waiting agent does) is a client's request.
func approverOnly(r *http.Request) bool {
	p := strings.TrimSuffix(r.URL.Path, "/")
	if p == "/v1/approvals" {
		return true
	}
	return r.Method != http.MethodGet && strings.HasPrefix(p, "/v1/approvals/")
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func forbid(w http.ResponseWriter, status int, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = map[int]string{http.StatusUnauthorized: "unauthorized", http.StatusForbidden: "forbidden"}[status], msg
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="probity guard"`)
	}
	writeJSON(w, status, b)
}
