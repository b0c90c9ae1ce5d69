package keyentry_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
)

// unknownLink is a well-formed token for link of an id that was never made.
func unknownLink(link string) string {
	i := strings.LastIndex(link, "/") + 1 + len("mgk_")
	return link[:i] + strings.Repeat("a", 12) + link[i+12:]
}

// getN GETs u n times and fails t unless every answer has status.
func getN(t *testing.T, u string, n, status int) {
	t.Helper()
	for range n {
		if got, _, _ := page(t, u); got != status {
			t.Fatalf("GET: HTTP %d, want %d", got, status)
		}
	}
}

// headN sends HEAD to u n times and fails t unless every answer has status.
func headN(t *testing.T, u string, n, status int) {
	t.Helper()
	for range n {
		resp, err := http.Head(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("HEAD: HTTP %d, want %d", resp.StatusCode, status)
		}
	}
}

// submitN submits the form of link n times and fails t unless every answer
// has status.
func submitN(t *testing.T, link, formToken string, header http.Header, n, status int) {
	t.Helper()
	for range n {
		if got, _ := submit(t, link, formToken, "ANTHROPIC_API_KEY", "sk-not-the-owners", header); got != status {
			t.Fatalf("POST: HTTP %d, want %d", got, status)
		}
	}
}

// all reports whether s contains every one of parts.
func all(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// count returns how many of ss are s.
func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// TestPage_RepeatedRefusalsAreAuditedOncePerInterval: the page needs no
// bearer token, so anyone who has seen a link's id can present it with a
// wrong secret (or a spent link again) as often as they like. The first
// refusal of each kind (link, open or submit, code) is audited, the
// repeats within keyentry.RepeatInterval are not, and the next one after
// the interval is audited again and its log line says how many were not.
// Unknown ids are logged the same way. The owner's use of the link is
// audited as before: each refused value, and the stored key.
func TestPage_RepeatedRefusalsAreAuditedOncePerInterval(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			link := linkFor(t, r, "acme")
			forged := link[:len(link)-4] + flip(link[len(link)-4:])
			unknown := unknownLink(link)
			const n = 20

			getN(t, forged, n, http.StatusNotFound)
			headN(t, forged, n, http.StatusNotFound) // an open, as a GET is
			submitN(t, forged, "", nil, n, http.StatusNotFound)
			submitN(t, forged, "", http.Header{"Sec-Fetch-Site": {"cross-site"}}, n, http.StatusForbidden)
			getN(t, unknown, n, http.StatusNotFound)
			want := []string{"key_link_refused FORGED_TOKEN", "key_link_refused FORGED_TOKEN"} // an open, a submit
			if got := events(audit(t, r.store, "acme")); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("after %d forged opens (GET and HEAD), submits and cross-site submits, key link events = %q, want %q", n, got, want)
			}
			if got := strings.Count(r.logs.String(), "with an unknown link"); got != 1 {
				t.Errorf("%d GETs of an unknown link logged %d lines, want 1", n, got)
			}

			// The owner's link works as before, and each refused value
			// is audited.
			status, _, tok := page(t, link)
			if status != http.StatusOK {
				t.Fatalf("the real link after the forged ones: HTTP %d", status)
			}
			for range 2 {
				if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", " ", nil); status != http.StatusUnprocessableEntity {
					t.Fatalf("a blank value: HTTP %d, want %d", status, http.StatusUnprocessableEntity)
				}
			}
			if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusOK {
				t.Fatalf("the owner's submit: HTTP %d", status)
			}
			if got := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); got != canary {
				t.Fatalf("stored %q, want the owner's key", got)
			}

			// A spent link, opened and submitted again and again.
			getN(t, link, n, http.StatusGone)
			submitN(t, link, tok, nil, n, http.StatusGone)
			got := events(audit(t, r.store, "acme"))
			for e, want := range map[string]int{
				"key_link_refused FORGED_TOKEN": 2, "key_link_refused INVALID_ARGUMENT": 2,
				"key_link_used ": 1, "key_link_refused LINK_USED": 2,
			} {
				if count(got, e) != want {
					t.Errorf("%q: %d in the audit trail, want %d (all: %q)", e, count(got, e), want, got)
				}
			}
			if len(got) != 7 {
				t.Errorf("key link events = %q, want 7", got)
			}

			// After the interval, the next of each kind is audited, and
			// says how many were not.
			r.clock.advance(keyentry.RepeatInterval)
			getN(t, forged, 1, http.StatusNotFound)
			getN(t, unknown, 1, http.StatusNotFound)
			if got := count(events(audit(t, r.store, "acme")), "key_link_refused FORGED_TOKEN"); got != 3 {
				t.Errorf("after the interval, %d FORGED_TOKEN refusals audited, want 3", got)
			}
			// The log says how many were not audited: on the line of the
			// next one audited, or on a line of their own when their kind
			// is forgotten (not seen for an interval).
			lines := strings.Split(r.logs.String(), "\n")
			has := func(parts ...string) bool {
				for _, l := range lines {
					if all(l, parts) {
						return true
					}
				}
				return false
			}
			for _, want := range [][]string{
				{`"code":"FORGED_TOKEN"`, `"repeats":39`, `"message":"key link event"`},     // the opens (GET and HEAD), on the next one audited
				{`"code":"FORGED_TOKEN"`, `"repeats":39`, `"method":"POST"`, "not audited"}, // the submits, plain and cross-site
				{`"code":"LINK_USED"`, `"repeats":19`, `"method":"GET"`, "not audited"},
				{`"code":"LINK_USED"`, `"repeats":19`, `"method":"POST"`, "not audited"},
				{"unknown link", `"repeats":19`},
			} {
				if !has(want...) {
					t.Errorf("no log line has all of %q:\n%s", want, r.logs)
				}
			}
		})
	}
}

// TestPage_RepeatedRefusalsAreCountedInTheMetrics: a refusal that is not
// audited is still counted, and so is a link that names no link.
func TestPage_RepeatedRefusalsAreCountedInTheMetrics(t *testing.T) {
	t.Parallel()
	ke, m, store := metricsService(t, keyentry.Options{})
	missing := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
	l := ke.Offer(t.Context(), modelgate.Caller{Org: "acme"}, missing)
	if l == nil {
		t.Fatal("no link made")
	}
	forged := l.URL[:len(l.URL)-4] + flip(l.URL[len(l.URL)-4:])
	h := ke.Handler()
	for _, u := range []string{forged, forged, forged, unknownLink(l.URL), unknownLink(l.URL)} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, u, nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("GET: HTTP %d, want 404", rec.Code)
		}
	}
	if got := events(audit(t, store, "acme")); len(got) != 1 {
		t.Errorf("key link events = %q, want one FORGED_TOKEN", got)
	}
	const want = `
# HELP modelgate_key_entry_links_total Key-entry link events (created, used, expired, refused, retired).
# TYPE modelgate_key_entry_links_total counter
modelgate_key_entry_links_total{event="created"} 1
modelgate_key_entry_links_total{event="refused"} 5
`
	wantLinkMetrics(t, m, want)
}
