package registry

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Check is a provider's live credential check (CONTRACT.md §8): one cheap
// authenticated request whose status tells a good key from one the
// provider rejects. A Check returned by a Catalog is shared and must not be
// modified.
type Check struct {
	// Method is GET or HEAD: a check never sends a body and never creates
	// anything at the provider.
	Method string
	// BaseURL is the provider's API origin (https://host[:port][/prefix]);
	// the operator may override it per provider (--verify-base-url).
	BaseURL string
	// Path is appended to the base URL; it starts with "/" and may carry a
	// query.
	Path string
	// KeyHeader is the header that carries the key, KeyPrefix what goes
	// before it ("Bearer " for Authorization).
	KeyHeader string
	KeyPrefix string
	// Headers are fixed extra headers (an API version); never a value of
	// the org.
	Headers map[string]string
	// Names are the auth_env names whose values this request can check.
	// A name the provider accepts that is not listed is never sent.
	Names []string
	// Valid and Rejected are the statuses that mean "the key is good" and
	// "the provider rejected the key". Any other status, and no answer, is
	// no verdict: the key is stored unchecked.
	Valid    []int
	Rejected []int
}

// Covers reports whether the check can check a value of name.
func (c *Check) Covers(name string) bool { return c != nil && slices.Contains(c.Names, name) }

// URL returns the request URL for base (the catalog's BaseURL, or an
// operator's override): base without a trailing "/", then Path.
func (c *Check) URL(base string) string { return strings.TrimRight(base, "/") + c.Path }

// SameRequest reports whether c and o send a key to the same place in the
// same way, so one verdict answers both.
func (c *Check) SameRequest(o *Check) bool {
	return c.Method == o.Method && c.BaseURL == o.BaseURL && c.Path == o.Path && c.KeyHeader == o.KeyHeader &&
		c.KeyPrefix == o.KeyPrefix && fmt.Sprint(c.Headers) == fmt.Sprint(o.Headers) &&
		slices.Equal(c.Valid, o.Valid) && slices.Equal(c.Rejected, o.Rejected)
}

// checkEntry is the catalog form of a Check (a provider's "check:" block).
type checkEntry struct {
	// Method is GET (default) or HEAD.
	Method string `yaml:"method"`
	// BaseURL is https://host[:port][/path] (plain http only for a loopback host).
	BaseURL string `yaml:"base_url"`
	// Path starts with "/".
	Path string `yaml:"path"`
	// KeyHeader is the header carrying the key; KeyPrefix precedes the key.
	KeyHeader string `yaml:"key_header"`
	KeyPrefix string `yaml:"key_prefix"`
	// Headers are fixed extra headers.
	Headers map[string]string `yaml:"headers"`
	// Names are the auth_env names the check covers (default: none; they
	// must be listed, because a name shared with other providers often
	// carries another provider's key).
	Names []string `yaml:"names"`
	// Valid (default [200]) and Rejected (default [401, 403]) statuses.
	Valid    []int `yaml:"valid"`
	Rejected []int `yaml:"rejected"`
}

// validHeaderName reports whether s can name a header a check sets: 1 to 64
// of A-Z, a-z, 0-9 and '-' (^[A-Za-z0-9-]{1,64}$). It is written out rather
// than compiled from that pattern: the {1,64} unrolls into 64 steps, and
// compiling it cost every start that loads a catalog with checks about
// 0.4 ms. TestValidHeaderName_MatchesThePattern holds the two together.
func validHeaderName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// forbiddenHeaders are headers a catalog may not set: the transport owns them.
var forbiddenHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Cookie", "Proxy-Authorization"}

// check validates provider i's check block and returns it (nil when the
// provider declares none).
func (l *loader) check(i int, e providerEntry) (*Check, error) {
	c := e.Check
	if c == nil {
		return nil, nil
	}
	at := l.line("providers", i, "check")
	fail := func(field, format string, args ...any) error {
		line := l.line("providers", i, "check", field)
		return l.errf(line, "provider %q: check: "+format, append([]any{e.Name}, args...)...)
	}
	if e.Name == PlatformProvider {
		return nil, l.errf(at, "provider %q: the platform provider takes no check: its token is the operator's", e.Name)
	}
	chk := &Check{Method: c.Method, BaseURL: c.BaseURL, Path: c.Path, KeyHeader: c.KeyHeader, KeyPrefix: c.KeyPrefix,
		Valid: slices.Clone(c.Valid), Rejected: slices.Clone(c.Rejected)}
	if chk.Method == "" {
		chk.Method = http.MethodGet
	}
	if chk.Method != http.MethodGet && chk.Method != http.MethodHead {
		return nil, fail("method", "method %q: want GET or HEAD (a check sends no body and changes nothing)", c.Method)
	}
	if err := CheckBaseURL(c.BaseURL); err != nil {
		return nil, fail("base_url", "base_url: %v", err)
	}
	if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " #\r\n") {
		return nil, fail("path", "path %q: want a path starting with / (a query is allowed, a fragment or space is not)", c.Path)
	}
	if !validHeaderName(c.KeyHeader) || slices.ContainsFunc(forbiddenHeaders, func(h string) bool { return strings.EqualFold(h, c.KeyHeader) }) {
		return nil, fail("key_header", "key_header %q: want a header name such as Authorization or x-api-key", c.KeyHeader)
	}
	if strings.ContainsAny(c.KeyPrefix, "\r\n\x00") {
		return nil, fail("key_prefix", "key_prefix holds a control character")
	}
	if len(c.Headers) > 0 {
		chk.Headers = make(map[string]string, len(c.Headers))
	}
	for k, v := range c.Headers {
		if !validHeaderName(k) || strings.EqualFold(k, c.KeyHeader) ||
			slices.ContainsFunc(forbiddenHeaders, func(h string) bool { return strings.EqualFold(h, k) }) {
			return nil, fail("headers", "header %q: want a header name other than key_header and the transport's own", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fail("headers", "header %q: value holds a control character", k)
		}
		chk.Headers[k] = v
	}
	if len(c.Names) == 0 {
		return nil, fail("names", "names: list the auth_env names this request can check")
	}
	for _, n := range c.Names {
		if !slices.Contains(e.AuthEnv, n) {
			return nil, fail("names", "name %q is not in the provider's auth_env", n)
		}
		if slices.Contains(chk.Names, n) {
			return nil, fail("names", "name %q is listed twice", n)
		}
		chk.Names = append(chk.Names, n)
	}
	if len(chk.Valid) == 0 {
		chk.Valid = []int{http.StatusOK}
	}
	if len(chk.Rejected) == 0 {
		chk.Rejected = []int{http.StatusUnauthorized, http.StatusForbidden}
	}
	for _, s := range chk.Valid {
		if s < 200 || s > 299 {
			return nil, fail("valid", "valid status %d: want a 2xx status", s)
		}
	}
	for _, s := range chk.Rejected {
		// 408 and 429 say "not now", never "bad key"; a refusal on them
		// would refuse good keys.
		if s < 400 || s > 499 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests {
			return nil, fail("rejected", "rejected status %d: want a 4xx status other than 408 and 429", s)
		}
	}
	return chk, nil
}

// CheckBaseURL returns an error unless base is an absolute https URL (or
// http with a loopback host), without user information, query or
// fragment. The operator's --verify-base-url is held to the same rule.
func CheckBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("want scheme://host[:port][/path] without user, query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http only to a loopback address; use https")
	}
	return fmt.Errorf("scheme %q: want https", u.Scheme)
}

// IsLoopback reports whether host is "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
