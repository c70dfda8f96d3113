package eval

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// errCrossOrigin stops a redirect to another origin. Go's client drops
// Authorization and cookies on such a redirect but keeps every other header
// (X-Api-Key, api-key, a suite's own secrets) and, for 307 and 308, resends
// the body, which holds the case's expected answer: following it would hand
// all of that to whoever the target redirects to.
var errCrossOrigin = errors.New("redirect to another origin")

// sameOriginOnly is an http.Client CheckRedirect that follows redirects
// within the origin (scheme, host and port) of the first request only.
func sameOriginOnly(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if o, n := origin(via[0].URL), origin(req.URL); o != n {
		return fmt.Errorf("%w: %s redirected to %s; not followed, so no header or body leaves %s (point the suite at the final address if it is meant)",
			errCrossOrigin, o, n, o)
	}
	return nil
}

func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + u.Hostname() + ":" + port
}

// withSameOriginRedirects returns c (or, for nil, a client on the default
// transport) refusing cross-origin redirects. A caller's client that has its
// own redirect policy keeps it: that caller decided.
func withSameOriginRedirects(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{CheckRedirect: sameOriginOnly}
	}
	if c.CheckRedirect != nil {
		return c
	}
	cp := *c
	cp.CheckRedirect = sameOriginOnly
	return &cp
}
