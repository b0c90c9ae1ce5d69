package verify_test

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/verifytest"
)

const key = "sk-ant-canary-verify-71c3"

type testBundle struct {
	checker  *verify.Checker
	fake     *verifytest.Provider
	provider *registry.Provider
	store    *sqlite.DB
	logs     *testlog.Buffer
}

// setup plays anthropic-api of the default catalog with a fake provider.
func setup(t *testing.T, o verify.Options) testBundle {
	t.Helper()
	b := testBundle{fake: verifytest.New(t, "x-api-key", ""), logs: &testlog.Buffer{}}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.store = db
	if o.BaseURLs == nil {
		o.BaseURLs = map[string]string{"anthropic-api": b.fake.URL()}
	}
	if o.RootCAs == nil {
		o.RootCAs = b.fake.Pool()
	}
	o.Audit, o.Log = db, zerolog.New(b.logs)
	b.checker, err = verify.New(registry.Default(), o)
	if err != nil {
		t.Fatal(err)
	}
	b.provider, _ = registry.Default().Provider("anthropic-api")
	return b
}

func (b testBundle) check(t *testing.T) verify.Result {
	t.Helper()
	r, ok := b.checker.Check(t.Context(), verify.Request{Org: "acme", Scope: modelgate.ScopeOrg, Provider: b.provider,
		Name: "ANTHROPIC_API_KEY", Value: key})
	if !ok {
		t.Fatal("Check: no check applies, want one")
	}
	return r
}

// noValueAnywhere fails t if the key appears in the logs, the audit trail
// or the result's error.
func (b testBundle) noValueAnywhere(t *testing.T, r verify.Result) {
	t.Helper()
	if strings.Contains(b.logs.String(), key) {
		t.Errorf("the key appears in the logs")
	}
	checks, err := b.store.ListCredentialChecks(t.Context(), "", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := json.Marshal(checks); strings.Contains(string(js), key) {
		t.Errorf("the key appears in the audit trail")
	}
	if err := r.Err(); err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("the key appears in the error")
	}
	if strings.Contains(r.Reason, key) {
		t.Errorf("the key appears in the reason")
	}
}

func TestCheck_StatusDecidesTheVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		verdict string
		reason  string
	}{
		{http.StatusOK, modelgate.VerdictValid, ""},
		{http.StatusUnauthorized, modelgate.VerdictRejected, ""},
		{http.StatusForbidden, modelgate.VerdictRejected, ""},
		{http.StatusTooManyRequests, modelgate.VerdictUnchecked, "status 429"},
		{http.StatusInternalServerError, modelgate.VerdictUnchecked, "status 500"},
		{http.StatusBadGateway, modelgate.VerdictUnchecked, "status 502"},
		{http.StatusNotFound, modelgate.VerdictUnchecked, "status 404"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, verify.Options{})
			b.fake.Answer(key, tt.status)
			r := b.check(t)
			if r.Verdict != tt.verdict || r.Status != tt.status || r.Reason != tt.reason {
				t.Errorf("Check = %+v, want verdict %s, status %d, reason %q", r, tt.verdict, tt.status, tt.reason)
			}
			if (r.Err() != nil) != (tt.verdict == modelgate.VerdictRejected) {
				t.Errorf("Err() = %v: want INVALID_CREDENTIAL exactly when rejected", r.Err())
			}
			checks, _ := b.store.ListCredentialChecks(t.Context(), "acme", time.Time{}, 10)
			if len(checks) != 1 || checks[0].Verdict != tt.verdict || checks[0].Status != tt.status ||
				checks[0].Provider != "anthropic-api" || checks[0].Name != "ANTHROPIC_API_KEY" {
				t.Errorf("audit trail = %+v, want this one check", checks)
			}
			b.noValueAnywhere(t, r)
		})
	}
}

func TestCheck_RejectedKeyIsInvalidCredentialWithDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, verify.Options{})
	r := b.check(t) // unknown key: 401
	var me *modelgate.Error
	err := r.Err()
	if modelgate.ErrorCode(err) != modelgate.EInvalidCredential {
		t.Fatalf("Err() = %v, want INVALID_CREDENTIAL", err)
	}
	me = err.(*modelgate.Error)
	if me.Details["provider"] != "anthropic-api" || me.Details["name"] != "ANTHROPIC_API_KEY" || me.Details["provider_status"] != 401 {
		t.Errorf("details = %v, want provider, name and provider_status 401", me.Details)
	}
}

// The request carries the key in the declared header, the check's fixed
// headers, and nothing else of the org.
func TestCheck_SendsOnlyTheDeclaredRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, verify.Options{})
	b.fake.Accept(key)
	b.check(t)
	seen := b.fake.Requests()
	if len(seen) != 1 {
		t.Fatalf("provider saw %d requests, want 1", len(seen))
	}
	s := seen[0]
	if s.Method != http.MethodGet || s.Path != "/v1/models?limit=1" || s.Key != key {
		t.Errorf("request = %s %s with key %v, want GET /v1/models?limit=1 with the key", s.Method, s.Path, s.Key == key)
	}
	allowed := map[string]bool{"X-Api-Key": true, "Anthropic-Version": true, "User-Agent": true, "Accept-Encoding": true}
	for h := range s.Header {
		if !allowed[h] {
			t.Errorf("unexpected header %s sent to the provider", h)
		}
	}
	if s.Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("anthropic-version = %q, want the catalog's fixed header", s.Header.Get("Anthropic-Version"))
	}
}

// No answer is never a refusal: timeout, connection refused and a redirect
// leave the key unchecked, and a redirect's target never gets the key.
func TestCheck_NoAnswerIsUnchecked(t *testing.T) {
	t.Parallel()
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, verify.Options{Timeout: 100 * time.Millisecond})
		_, release := b.fake.Hold()
		defer release()
		r := b.check(t)
		if r.Verdict != modelgate.VerdictUnchecked || r.Reason != "timeout" {
			t.Errorf("Check = %+v, want unchecked after a timeout", r)
		}
		b.noValueAnywhere(t, r)
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		closed := verifytest.New(t, "x-api-key", "")
		url := closed.URL()
		b := setup(t, verify.Options{BaseURLs: map[string]string{"anthropic-api": url}})
		closedServer(t, closed)
		r := b.check(t)
		if r.Verdict != modelgate.VerdictUnchecked || r.Reason != "connection refused" {
			t.Errorf("Check = %+v, want unchecked, connection refused", r)
		}
	})
	t.Run("redirect to another host", func(t *testing.T) {
		t.Parallel()
		b := setup(t, verify.Options{})
		target := verifytest.New(t, "x-api-key", "")
		target.Accept(key)
		b.fake.RedirectTo(target.URL() + "/v1/models")
		r := b.check(t)
		if r.Verdict != modelgate.VerdictUnchecked || r.Status != http.StatusTemporaryRedirect || r.Reason != "redirect not followed" {
			t.Errorf("Check = %+v, want unchecked after a redirect", r)
		}
		if n := len(target.Requests()); n != 0 {
			t.Errorf("the redirect target received %d requests, want none", n)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, verify.Options{RootCAs: x509.NewCertPool()}) // trusts no CA
		b.fake.Accept(key)
		r := b.check(t)
		if r.Verdict != modelgate.VerdictUnchecked || r.Reason != "TLS certificate not trusted" {
			t.Errorf("Check = %+v, want unchecked: untrusted certificate", r)
		}
	})
}

func closedServer(t *testing.T, p *verifytest.Provider) {
	t.Helper()
	// Close runs at cleanup too; closing twice is harmless.
	p.Close()
}

func TestCheck_OffSendsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, verify.Options{Off: true})
	b.fake.Accept(key)
	if _, ok := b.checker.Check(t.Context(), verify.Request{Org: "acme", Scope: modelgate.ScopeOrg, Provider: b.provider,
		Name: "ANTHROPIC_API_KEY", Value: key}); ok {
		t.Errorf("Check with checks off = ok, want no check")
	}
	if b.checker.OrgProvider("GROQ_API_KEY") != nil {
		t.Errorf("OrgProvider with checks off: want none")
	}
	if n := len(b.fake.Requests()); n != 0 {
		t.Errorf("provider saw %d requests with checks off, want none", n)
	}
	var nilChecker *verify.Checker
	if _, ok := nilChecker.Check(t.Context(), verify.Request{Provider: b.provider, Name: "ANTHROPIC_API_KEY"}); ok {
		t.Errorf("a nil checker checked")
	}
}

// A name the check does not list is never sent: ANTHROPIC_AUTH_TOKEN is
// accepted by anthropic-api but often carries another provider's key.
func TestCheck_NameTheCheckDoesNotCoverIsNeverSent(t *testing.T) {
	t.Parallel()
	b := setup(t, verify.Options{})
	if _, ok := b.checker.Check(t.Context(), verify.Request{Org: "acme", Scope: modelgate.ScopeOrg, Provider: b.provider,
		Name: "ANTHROPIC_AUTH_TOKEN", Value: key}); ok {
		t.Errorf("Check(ANTHROPIC_AUTH_TOKEN) = ok, want no check")
	}
	platform, _ := registry.Default().Provider(registry.PlatformProvider)
	if _, ok := b.checker.Check(t.Context(), verify.Request{Org: "acme", Provider: platform, Name: "MODELGATE_PLATFORM_TOKEN", Value: key}); ok {
		t.Errorf("Check(platform) = ok, want no check")
	}
	if n := len(b.fake.Requests()); n != 0 {
		t.Errorf("provider saw %d requests, want none", n)
	}
}

func TestCheck_ConcurrentChecksOfOneValueSendOneRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, verify.Options{})
	b.fake.Accept(key)
	arrived, release := b.fake.Hold()
	defer release()
	const n = 8
	var joined sync.WaitGroup
	joined.Add(n)
	b.checker.SetJoined(joined.Done)
	results := make([]verify.Result, n)
	var done sync.WaitGroup
	for i := range n {
		done.Go(func() { results[i] = b.check(t) })
	}
	<-arrived
	joined.Wait() // every caller waits on the one request in flight
	release()
	done.Wait()
	if got := len(b.fake.Requests()); got != 1 {
		t.Errorf("provider saw %d requests for %d concurrent checks of one value, want 1", got, n)
	}
	for _, r := range results {
		if r.Verdict != modelgate.VerdictValid {
			t.Errorf("a caller got %+v, want valid", r)
		}
	}
}

// An org secret is checked only when every provider that accepts its name
// checks it the same way.
func TestOrgProvider_OnlyAnUnambiguousName(t *testing.T) {
	t.Parallel()
	c, err := verify.New(registry.Default(), verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"GROQ_API_KEY":         "groq",
		"OPENROUTER_API_KEY":   "openrouter",
		"GEMINI_API_KEY":       "google", // google and byok-gemini check it the same way
		"HF_TOKEN":             "huggingface",
		"ANTHROPIC_API_KEY":    "", // kimi-coding, minimax, zai... use it for their own keys
		"OPENAI_API_KEY":       "", // custom endpoints use it too
		"ANTHROPIC_AUTH_TOKEN": "",
		"MOONSHOT_API_KEY":     "", // no check declared
		"UNKNOWN_NAME":         "",
	}
	for name, want := range tests {
		got := ""
		if p := c.OrgProvider(name); p != nil {
			got = p.Name
		}
		if got != want {
			t.Errorf("OrgProvider(%s) = %q, want %q", name, got, want)
		}
	}
	// Overriding one of two identical checks makes the name ambiguous.
	c, err = verify.New(registry.Default(), verify.Options{BaseURLs: map[string]string{"byok-gemini": "https://proxy.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.OrgProvider("GEMINI_API_KEY"); p != nil {
		t.Errorf("OrgProvider(GEMINI_API_KEY) with one override = %s, want none", p.Name)
	}
}

func TestNew_RefusesUnsafeOrUnknownOverrides(t *testing.T) {
	t.Parallel()
	for _, o := range []map[string]string{
		{"anthropic-api": "http://api.example.com"},
		{"anthropic-api": "https://user:pw@api.example.com"},
		{"nosuch": "https://api.example.com"},
		{"moonshot": "https://api.example.com"}, // declares no check
	} {
		if _, err := verify.New(registry.Default(), verify.Options{BaseURLs: o}); err == nil {
			t.Errorf("New(%v) = nil error, want a refusal", o)
		}
	}
	if _, err := verify.New(registry.Default(), verify.Options{BaseURLs: map[string]string{"anthropic-api": "http://127.0.0.1:1"}}); err != nil {
		t.Errorf("New(loopback http) = %v, want allowed", err)
	}
}

// Every check is counted on /metrics by provider and verdict, never with
// the key.
func TestCheck_IsCountedInTheMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	b := setup(t, verify.Options{Metrics: m})
	b.fake.Accept(key)
	b.check(t)
	b.fake.Revoke(key)
	b.check(t)
	families, text := metricstest.ScrapeText(t, m)
	if strings.Contains(text, key) {
		t.Fatal("a key reached the metrics")
	}
	got := map[string]float64{}
	for _, metric := range families[metrics.Namespace+"_credential_checks_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range metric.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		got[labels["provider"]+" "+labels["outcome"]] += metric.GetCounter().GetValue()
	}
	want := map[string]float64{"anthropic-api " + modelgate.VerdictValid: 1, "anthropic-api " + modelgate.VerdictRejected: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credential checks counted (-want +got):\n%s", diff)
	}
}
