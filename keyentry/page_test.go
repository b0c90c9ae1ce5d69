package keyentry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
)

// linkFor returns a fresh link of org on r (a refused provision call).
func linkFor(t *testing.T, r *replica, org string) string {
	t.Helper()
	c := r.connect(t, mcpserver.TransportHTTP, r.token(t, org), &recorder{})
	link, _ := refusal(t, c, byok("w", true))
	return link
}

func TestPage_EveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	link := linkFor(t, r, "acme")
	for _, u := range []string{link, r.url + keyentry.PathPrefix + "mgk_unknown", link[:len(link)-1] + "x"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		h := res.Header
		for k, want := range map[string]string{
			"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Content-Type": "text/html; charset=utf-8",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", u, k, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", u, csp, want)
			}
		}
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q allows scripts or unsafe sources", u, csp)
		}
	}
}

// TestBrowser_CrossSiteFormPostIsRefused posts the link's form from a page
// of another site, in a real browser, with every field right (even the
// form token): the browser says where the post comes from, and the page
// refuses it.
func TestBrowser_CrossSiteFormPostIsRefused(t *testing.T) {
	t.Parallel()
	bctx := browsertest.New(t)
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	link := linkFor(t, r, "acme")
	_, _, tok := page(t, link)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s">
<input type="hidden" name="form_token" value="%s"><input type="hidden" name="name" value="ANTHROPIC_API_KEY">
<input type="hidden" name="value" value="sk-attacker-controlled"><button id="go">Claim</button></form>`, link, tok)
	}))
	defer evil.Close()
	// localhost and 127.0.0.1 are different sites to the browser.
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	if err := chromedp.Do(bctx, chromedp.Navigate(evilURL)); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS("#go")))
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(t, bctx, "cross-site")
	if res.Status != http.StatusForbidden {
		t.Errorf("cross-site post: HTTP %d, want 403", res.Status)
	}
	if names, _ := r.store.OrgSecretNames(t.Context(), "acme"); len(names) != 0 {
		t.Fatalf("a cross-site post stored %v", names)
	}
	if got := events(audit(t, r.store, "acme")); len(got) != 1 || got[0] != "key_link_refused CROSS_SITE" {
		t.Errorf("key link events = %q, want one CROSS_SITE refusal", got)
	}
	// The link still works from its own page.
	if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusOK {
		t.Errorf("same-site submit after the refused one: HTTP %d", status)
	}
}

func TestPage_CrossSiteOrForeignFormIsRefusedAndStoresNothing(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	link := linkFor(t, r, "acme")
	_, _, tok := page(t, link)
	tests := []struct {
		name   string
		token  string
		header http.Header
		status int
	}{
		{"Sec-Fetch-Site cross-site", tok, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"Origin of another site, no Sec-Fetch-Site", tok, http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"no form token", "", nil, http.StatusForbidden},
		{"form token of another link", strings.Repeat("A", len(tok)), nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		if status, _ := submit(t, link, tt.token, "ANTHROPIC_API_KEY", canary, tt.header); status != tt.status {
			t.Errorf("%s: HTTP %d, want %d", tt.name, status, tt.status)
		}
	}
	if names, _ := r.store.OrgSecretNames(t.Context(), "acme"); len(names) != 0 {
		t.Fatalf("a refused post stored %v", names)
	}
}

// TestPage_ValueRefusedByTheSecretRulesKeepsTheLink: the value goes
// through SetOrgSecret's rules; a refused value stores nothing, says why
// (never echoing it) and leaves the link usable.
func TestPage_ValueRefusedByTheSecretRulesKeepsTheLink(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	link := linkFor(t, r, "acme")
	_, _, tok := page(t, link)
	for _, tt := range []struct {
		name, key, value string
		status           int
	}{
		{"empty value", "ANTHROPIC_API_KEY", "", http.StatusUnprocessableEntity},
		{"value too large", "ANTHROPIC_API_KEY", strings.Repeat("k", 17<<10), http.StatusUnprocessableEntity},
		{"name not offered", "OPENAI_API_KEY", canary, http.StatusBadRequest},
	} {
		status, body := submit(t, link, tok, tt.key, tt.value, nil)
		if status != tt.status || !strings.Contains(body, `role="alert"`) || strings.Contains(body, canary) {
			t.Errorf("%s: HTTP %d, want %d with the problem and without the value", tt.name, status, tt.status)
		}
	}
	if names, _ := r.store.OrgSecretNames(t.Context(), "acme"); len(names) != 0 {
		t.Fatalf("refused values stored %v", names)
	}
	if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", "  "+canary+"\n", nil); status != http.StatusOK {
		t.Fatalf("a good value after refused ones: HTTP %d", status)
	}
	if got := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); strings.TrimSpace(got) != canary {
		t.Fatalf("stored %q", got)
	}
}

// TestPage_AValuePastTheHardCapIsRefusedAsSetOrgSecretRefusesIt: every
// value up to the hard cap reaches the secret rules however it is encoded,
// so the page names the secret as set_org_secret does; a longer form is
// refused unread. Either way the link is kept.
func TestPage_AValuePastTheHardCapIsRefusedAsSetOrgSecretRefusesIt(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	link := linkFor(t, r, "acme")
	_, _, tok := page(t, link)
	named := "the value of ANTHROPIC_API_KEY must be valid UTF-8 of at most 16384 bytes"
	for _, tt := range []struct {
		name, value, want string
	}{
		{"70,000 bytes", canary + strings.Repeat("k", 70_000), named},
		// Three bytes each once URL-encoded: past the old 64 KiB form.
		{"30,000 bytes that encode long", canary + strings.Repeat("+", 30_000), named},
		{"the hard cap, all encoded", canary + strings.Repeat("/", gate.MaxSecretInputBytes), named},
		{"past any form", canary + strings.Repeat("k", 3*gate.MaxSecretInputBytes+8<<10), "the value must be valid UTF-8 of at most 16384 bytes"},
	} {
		status, body := submit(t, link, tok, "ANTHROPIC_API_KEY", tt.value, nil)
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, tt.want) || strings.Contains(body, canary) {
			t.Errorf("%s: HTTP %d, want %d with %q and without the value", tt.name, status, http.StatusUnprocessableEntity, tt.want)
		}
	}
	if names, _ := r.store.OrgSecretNames(t.Context(), "acme"); len(names) != 0 {
		t.Fatalf("refused values stored %v", names)
	}
	if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusOK {
		t.Fatalf("a good value after refused ones: HTTP %d", status)
	}
}

func TestPage_ConcurrentSubmitsStoreExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			link := linkFor(t, r, "acme")
			_, _, tok := page(t, link)
			const n = 6
			var wg sync.WaitGroup
			statuses := make([]int, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i], _ = submit(t, link, tok, "ANTHROPIC_API_KEY", fmt.Sprintf("sk-racer-%d", i), nil)
				}()
			}
			wg.Wait()
			winner := -1
			for i, s := range statuses {
				if s == http.StatusOK {
					if winner >= 0 {
						t.Fatalf("two submits of one link succeeded: %v", statuses)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("no submit succeeded: %v", statuses)
			}
			if got := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); got != fmt.Sprintf("sk-racer-%d", winner) {
				t.Fatalf("stored %q, want the winner's value", got)
			}
		})
	}
}

func TestOffer_NoLinkForAReadOnlyCallerOrAnotherRefusal(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportHTTP)
	missing := func() *modelgate.Error {
		return (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
	}
	for _, tt := range []struct {
		name   string
		caller modelgate.Caller
		err    *modelgate.Error
	}{
		{"read-only caller", modelgate.Caller{Org: "acme", ReadOnly: true}, missing()},
		{"another code", modelgate.Caller{Org: "acme"}, modelgate.Errorf(modelgate.EUnregisteredModel, "no")},
		{"no org", modelgate.Caller{}, missing()},
	} {
		if l := r.ke.Offer(t.Context(), tt.caller, tt.err); l != nil || tt.err.Details["add_key_url"] != nil {
			t.Errorf("%s: got a link", tt.name)
		}
	}
	if l := r.ke.Offer(t.Context(), modelgate.Caller{Org: "acme"}, missing()); l == nil {
		t.Fatal("a read-write caller got no link")
	}
}

// TestRefusal_WritesOnlyItsAuditRowAndItsLink: with key entry on, a
// refusal writes its audit row and the link, and nothing else (no org row).
func TestRefusal_WritesOnlyItsAuditRowAndItsLink(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			counter := r.store.(interface {
				Counts(ctx context.Context) (map[string]int64, error)
			})
			c := r.connect(t, mcpserver.TransportHTTP, r.token(t, "acme"), &recorder{})
			before, err := counter.Counts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			refusal(t, c, byok("w", false))
			after, err := counter.Counts(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range after {
				want := before[table]
				if table == "audit" || table == "key_links" {
					want++
				}
				if n != want {
					t.Errorf("%s: %d rows after the refusal, %d before; want %d", table, n, before[table], want)
				}
			}
		})
	}
}

// TestPage_OldLinksSayExpiredForTheRetentionThenAreDeleted: an expired or
// used link keeps its page ("expired", "already used") for
// modelgate.KeyLinkRetention after it expired; the next link made after
// that deletes it, and its page says the link is not valid.
func TestPage_OldLinksSayExpiredForTheRetentionThenAreDeleted(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			expired := linkFor(t, r, "acme")
			used := linkFor(t, r, "acme")
			_, _, tok := page(t, used)
			if status, _ := submit(t, used, tok, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusOK {
				t.Fatalf("submit: HTTP %d", status)
			}
			want := func(when string, status int, text string) {
				t.Helper()
				for name, link := range map[string]string{"expired link": expired, "used link": used} {
					got, body, _ := page(t, link)
					want := text
					if want == "" {
						want = map[string]string{"expired link": "has expired", "used link": "already used"}[name]
					}
					if got != status || !strings.Contains(body, want) {
						t.Errorf("%s, %s: HTTP %d, want %d saying %q", name, when, got, status, want)
					}
				}
			}
			// Another org's refusal makes the links that sweep.
			offer := func() {
				t.Helper()
				e := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
				if r.ke.Offer(t.Context(), modelgate.Caller{Org: "beta"}, e) == nil {
					t.Fatal("no link made")
				}
			}

			// The real time between making the links and the checks below
			// may be up to a minute: the clock moves in steps of minutes.
			r.clock.advance(keyentry.DefaultTTL + time.Minute)
			want("just after expiry", http.StatusGone, "")
			r.clock.advance(modelgate.KeyLinkRetention - 2*time.Minute)
			offer()
			want("a minute before the retention ends, after a new link", http.StatusGone, "")
			r.clock.advance(2 * time.Minute)
			offer()
			want("after the retention, after a new link", http.StatusNotFound, "not valid")
		})
	}
}

// TestOffer_PastTheOrgsCapTheRefusalCarriesALinkAndTheOldestExpires: an
// org holds at most DefaultMaxLiveLinks unused links, and a refusal past
// that still carries a working link (CONTRACT.md §7): the org's oldest
// unused link expires in its place, its page says so, and a submit with
// the form it showed before stores nothing. The other links still work.
func TestOffer_PastTheOrgsCapTheRefusalCarriesALinkAndTheOldestExpires(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			links := make([]string, keyentry.DefaultMaxLiveLinks)
			for i := range links {
				links[i] = linkFor(t, r, "acme")
				r.clock.advance(time.Second) // the first link is the oldest by a second
			}
			status, _, oldForm := page(t, links[0])
			if status != http.StatusOK || oldForm == "" {
				t.Fatalf("the oldest link before the cap: HTTP %d, form token %q; want its form", status, oldForm)
			}

			past := linkFor(t, r, "acme") // fails the test if the refusal has no link
			if status, body, _ := page(t, links[0]); status != http.StatusGone || !strings.Contains(body, "has expired") {
				t.Errorf("the oldest link past the cap: HTTP %d, want %d saying it has expired", status, http.StatusGone)
			}
			if status, _ := submit(t, links[0], oldForm, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusGone {
				t.Errorf("submit on the retired link: HTTP %d, want %d", status, http.StatusGone)
			}
			if v := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); v != "" {
				t.Fatal("a submit on the retired link stored the key")
			}
			if !strings.Contains(r.logs.String(), "its oldest unused links expired") {
				t.Errorf("the retirement was not logged:\n%s", r.logs)
			}
			for _, link := range []string{links[1], links[len(links)-1]} {
				if status, _, _ := page(t, link); status != http.StatusOK {
					t.Errorf("a later link past the cap: HTTP %d, want its form", status)
				}
			}
			_, _, tok := page(t, past)
			if status, _ := submit(t, past, tok, "ANTHROPIC_API_KEY", canary, nil); status != http.StatusOK {
				t.Fatalf("submit on the link past the cap: HTTP %d", status)
			}
			if v := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); v != canary {
				t.Error("the link past the cap did not store the key")
			}
		})
	}
}

// goneAfterSpend is a store whose SpendKeyLink, once it has spent a link,
// cancels the context in cancel (if any): the browser that submitted goes
// away at the worst moment, between spending the link and storing the key.
type goneAfterSpend struct {
	modelgate.Store
	cancel atomic.Pointer[context.CancelFunc]
}

func (s *goneAfterSpend) SpendKeyLink(ctx context.Context, id, name string, at time.Time) (bool, error) {
	spent, err := s.Store.SpendKeyLink(ctx, id, name, at)
	if c := s.cancel.Load(); spent && c != nil {
		(*c)()
	}
	return spent, err
}

// TestPage_SubmitFinishesWhenTheBrowserGoesAwayAfterTheSpend: once a
// submit has spent its link, it ends with the key stored or the link given
// back even if the browser disconnects (its request's context is
// cancelled), never with the link spent and nothing stored.
func TestPage_SubmitFinishesWhenTheBrowserGoesAwayAfterTheSpend(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			store := &goneAfterSpend{Store: sk.open(t)}
			r := newReplica(t, store, mcpserver.TransportHTTP)
			link := linkFor(t, r, "acme")
			id := keyentry.IDFromURL(link)
			_, _, tok := page(t, link)
			// submitAndLeave submits value on link with a request whose
			// context ends right after the link is spent.
			submitAndLeave := func(value string) {
				t.Helper()
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				store.cancel.Store(&cancel)
				defer store.cancel.Store(nil)
				form := url.Values{"form_token": {tok}, "name": {"ANTHROPIC_API_KEY"}, "value": {value}}
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, link, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				r.ke.Handler().ServeHTTP(httptest.NewRecorder(), req)
				if ctx.Err() == nil {
					t.Fatal("the submit did not spend the link")
				}
			}
			usedAt := func() *time.Time {
				t.Helper()
				l, _, err := r.store.KeyLinkByID(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				return l.UsedAt
			}

			// A value the rules refuse: the link is given back.
			submitAndLeave(" ")
			if at := usedAt(); at != nil {
				t.Fatalf("after a refused value whose browser left, the link stays spent (at %v)", at)
			}
			// A good value: it is stored, and the link is spent.
			submitAndLeave(canary)
			if got := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); got != canary {
				t.Fatalf("after a submit whose browser left, stored %q, want the key", got)
			}
			if usedAt() == nil {
				t.Error("the link that stored the key is not spent")
			}
			want := []string{"key_link_refused INVALID_ARGUMENT", "key_link_used "}
			if got := events(audit(t, r.store, "acme")); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("key link events = %q, want %q", got, want)
			}
		})
	}
}
