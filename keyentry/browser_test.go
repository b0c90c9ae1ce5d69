package keyentry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
)

// browse opens url in the browser and returns the HTTP status and the
// page's HTML.
func browse(t *testing.T, bctx context.Context, url string) (int64, string) {
	t.Helper()
	res, err := chromedp.RunResponse(bctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("navigate: %v", err)
	}
	return res.Status, html(t, bctx)
}

func html(t *testing.T, bctx context.Context) string {
	t.Helper()
	h, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	return h
}

// TestBrowser_PersonEntersTheKeyAndTheAgentsRetryIsAllowed is the whole
// story in a real browser, on both stores: the agent is refused with a
// link, a person opens it, chooses a name, types the key and submits; the
// agent's retry is allowed with the org's key. A second submit, a forged
// link and an expired link store nothing, and the key's value appears in
// no transcript, log, audit entry, event or page.
func TestBrowser_PersonEntersTheKeyAndTheAgentsRetryIsAllowed(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			bctx := browsertest.New(t)
			r := newReplica(t, sk.open(t), mcpserver.TransportHTTP)
			rec := &recorder{}
			c := r.connect(t, mcpserver.TransportHTTP, r.token(t, "acme"), rec)

			link, _ := refusal(t, c, byok("researcher", false))
			_, formHTML, formTok := page(t, link)

			status, h := browse(t, bctx, link)
			browsertest.Screenshot(t, bctx, "1-form")
			if status != http.StatusOK {
				t.Fatalf("link page: HTTP %d", status)
			}
			for _, want := range []string{"acme", "Anthropic API", "claude-sonnet-4-6", `type="password"`, "ANTHROPIC_API_KEY"} {
				if !strings.Contains(h, want) {
					t.Errorf("form page does not show %q", want)
				}
			}
			if err := chromedp.Do(bctx,
				chromedp.Click(chromedp.CSS(`input[name="name"][value="ANTHROPIC_API_KEY"]`)),
				chromedp.SendKeys(chromedp.CSS("#value"), canary),
			); err != nil {
				t.Fatalf("fill the form: %v", err)
			}
			browsertest.Screenshot(t, bctx, "2-filled")
			res, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			browsertest.Screenshot(t, bctx, "3-success")
			success := html(t, bctx)
			if res.Status != http.StatusOK || !strings.Contains(success, "return to your assistant; it can retry now") {
				t.Fatalf("after submit: HTTP %d, page:\n%s", res.Status, success)
			}
			if got := orgSecret(t, r, "acme", "ANTHROPIC_API_KEY"); got != canary {
				t.Fatalf("stored ANTHROPIC_API_KEY = %q, want the typed key", got)
			}

			// The agent retries the same call: allowed with the org's key.
			obj, isErr := call(t, c, "provision_workspace", byok("researcher", false))
			if isErr || obj["credential_scope"] != modelgate.ScopeOrg {
				t.Fatalf("retry = %v, want allowed with credential_scope org", obj)
			}

			// A second submit of the same link stores nothing.
			status2, body := submit(t, link, formTok, "ANTHROPIC_AUTH_TOKEN", "sk-second-submit", nil)
			if status2 != http.StatusGone || !strings.Contains(body, "already used") {
				t.Errorf("second submit: HTTP %d, want 410 already used", status2)
			}
			if got := orgSecret(t, r, "acme", "ANTHROPIC_AUTH_TOKEN"); got != "" {
				t.Error("a second submit of a spent link stored a key")
			}
			if status, h := browse(t, bctx, link); status != http.StatusGone || !strings.Contains(h, "already used") {
				t.Errorf("spent link page: HTTP %d", status)
			}
			browsertest.Screenshot(t, bctx, "4-used")

			// A forged token (right id, wrong secret) stores nothing.
			beta := r.connect(t, mcpserver.TransportHTTP, r.token(t, "beta"), rec)
			link2, _ := refusal(t, beta, byok("writer", true)) // a dry run is refused with a link too
			forged := link2[:len(link2)-4] + flip(link2[len(link2)-4:])
			if status, h := browse(t, bctx, forged); status != http.StatusNotFound || !strings.Contains(h, "not valid") {
				t.Errorf("forged link page: HTTP %d", status)
			}
			browsertest.Screenshot(t, bctx, "5-forged")
			_, _, tok2 := page(t, link2)
			if status, _ := submit(t, forged, tok2, "ANTHROPIC_AUTH_TOKEN", "sk-forged", nil); status != http.StatusNotFound {
				t.Errorf("forged submit: HTTP %d, want 404", status)
			}

			// An expired link stores nothing.
			r.clock.advance(keyentry.DefaultTTL + time.Second)
			if status, h := browse(t, bctx, link2); status != http.StatusGone || !strings.Contains(h, "expired") {
				t.Errorf("expired link page: HTTP %d", status)
			}
			browsertest.Screenshot(t, bctx, "6-expired")
			if status, _ := submit(t, link2, tok2, "ANTHROPIC_AUTH_TOKEN", "sk-expired", nil); status != http.StatusGone {
				t.Errorf("expired submit: HTTP %d, want 410", status)
			}
			if ss, _ := r.store.OrgSecretNames(t.Context(), "beta"); len(ss) != 0 {
				t.Errorf("a forged or expired link stored %v", ss)
			}

			// The audit trail: the refusals name their links; the link events follow.
			es := append(audit(t, r.store, "acme"), audit(t, r.store, "beta")...)
			var links []string
			for _, e := range es {
				if e.Event == "" && e.Code == modelgate.EMissingCredential {
					links = append(links, e.KeyLink)
				}
			}
			if len(links) != 2 || links[0] != keyentry.IDFromURL(link) || links[1] != keyentry.IDFromURL(link2) {
				t.Errorf("refusals record links %v, want %s and %s", links, keyentry.IDFromURL(link), keyentry.IDFromURL(link2))
			}
			want := []string{
				"key_link_used ", "key_link_refused LINK_USED", "key_link_refused LINK_USED",
				"key_link_refused FORGED_TOKEN", "key_link_refused FORGED_TOKEN",
				"key_link_expired LINK_EXPIRED", "key_link_expired LINK_EXPIRED",
			}
			if got := events(es); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("key link events:\n got %q\nwant %q", got, want)
			}

			// The value is nowhere but sealed in the store.
			auditJSON, _ := json.Marshal(es)
			ws, _, err := r.store.ListWorkspaces(t.Context(), "acme", modelgate.WorkspaceFilter{Limit: 10})
			if err != nil || len(ws) != 1 {
				t.Fatalf("workspaces: %v %v", ws, err)
			}
			changes, _ := r.store.StatusChanges(t.Context(), "acme", ws[0].ID)
			changesJSON, _ := json.Marshal(changes)
			neverHolds(t, map[string]string{
				"the MCP transcript": rec.String(), "the logs": r.logs.String(), "the audit trail": string(auditJSON),
				"the events": string(changesJSON), "the form page": formHTML + h, "the success page": success,
			})
		})
	}
}

// flip changes every character of s (keeping it in the token alphabet).
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// browserSubmit enters value under name on the link's page in the browser
// and returns the status and HTML of the answer.
func browserSubmit(t *testing.T, bctx context.Context, link, name, value string) (int64, string) {
	t.Helper()
	if status, _ := browse(t, bctx, link); status != http.StatusOK {
		t.Fatalf("link page: HTTP %d", status)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`input[name="name"][value="`+name+`"]`)),
		chromedp.SendKeys(chromedp.CSS("#value"), value),
	); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	res, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return res.Status, html(t, bctx)
}
