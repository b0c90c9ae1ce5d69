package provisioner_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provisioner"
)

const webhookSecret = "whsec-test-5b1e"

// receiver is a webhook endpoint that verifies every request and answers
// with the next status of its script (the last one repeats).
type receiver struct {
	mu       sync.Mutex
	script   []int
	bodies   [][]byte
	verified []bool
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ok := provisioner.VerifySignature(webhookSecret, req.Header.Get(provisioner.HeaderTimestamp), body, req.Header.Get(provisioner.HeaderSignature))
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.verified = append(r.verified, ok)
	status := r.script[min(len(r.bodies), len(r.script))-1]
	r.mu.Unlock()
	w.WriteHeader(status)
	if status >= 300 {
		io.WriteString(w, "upstream down")
	}
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// webhookSetup returns a provisioner whose webhook driver posts to a
// receiver answering with script.
func webhookSetup(t *testing.T, maxAttempts int, script ...int) (*provisionerUnderTest, *receiver) {
	t.Helper()
	r := &receiver{script: script}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	d, err := provisioner.NewWebhookDriver(srv.URL+"/hook?token=url-token-9f", webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	d.Client = srv.Client()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = maxAttempts
		o.Driver = d
	})
	return &provisionerUnderTest{p, b}, r
}

type provisionerUnderTest struct {
	*provisioner.Provisioner
	b *testBundle
}

func TestWebhookDriver_SignatureVerifiesAndTheBodyHoldsNoSecretValue(t *testing.T) {
	t.Parallel()
	p, r := webhookSetup(t, 1, http.StatusOK)
	w := p.b.provision(t, "hooked", byokModel, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-never-sent"})

	runOnce(t, p.Provisioner)
	if got := p.b.get(t, w.ID); got.Status != modelgate.StatusOnline {
		t.Fatalf("workspace is %s: %s", got.Status, got.StatusMessage)
	}
	if r.requests() != 1 || !r.verified[0] {
		t.Fatalf("%d requests, verified %v", r.requests(), r.verified)
	}
	body := r.bodies[0]
	if strings.Contains(string(body), "sk-ant-never-sent") {
		t.Fatalf("the webhook body carries a secret value: %s", body)
	}
	var got provisioner.WebhookPayload
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := provisioner.WebhookPayload{
		Event: provisioner.WebhookEvent, ID: w.ID, Org: org, Name: "hooked", Tier: w.Tier,
		Runtime: "claude-code", Model: byokModel, Provider: "anthropic-api",
		CredentialScope: modelgate.ScopeWorkspace, CredentialNames: []string{"ANTHROPIC_API_KEY"},
		Attempt: 1, CreatedAt: w.CreatedAt,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("payload (-want +got):\n%s", diff)
	}
}

func TestWebhookDriver_RetriesOn500UntilItSucceeds(t *testing.T) {
	t.Parallel()
	p, r := webhookSetup(t, 5, 500, 500, 204)
	w := p.b.provision(t, "retried", platformModel, nil)

	runOnce(t, p.Provisioner)
	got := p.b.get(t, w.ID)
	if got.Status != modelgate.StatusOnline || got.Attempts != 3 || r.requests() != 3 {
		t.Fatalf("workspace is %s after %d attempts and %d requests, want online after 3", got.Status, got.Attempts, r.requests())
	}
}

func TestWebhookDriver_FailsWithDriverFailedAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	p, r := webhookSetup(t, 3, 500)
	w := p.b.provision(t, "refused", platformModel, nil)

	runOnce(t, p.Provisioner)
	got := p.b.get(t, w.ID)
	if got.Status != modelgate.StatusFailed || got.StatusCode != provisioner.CodeDriverFailed || got.Attempts != 3 || r.requests() != 3 {
		t.Fatalf("workspace is %s %q after %d attempts and %d requests", got.Status, got.StatusCode, got.Attempts, r.requests())
	}
	if !strings.Contains(got.StatusMessage, "HTTP 500") || !strings.Contains(got.StatusMessage, "upstream down") {
		t.Fatalf("status message: %s", got.StatusMessage)
	}
	if strings.Contains(got.StatusMessage, "url-token-9f") {
		t.Fatalf("status message shows the webhook URL's token: %s", got.StatusMessage)
	}
}

func TestWebhookDriver_TransportErrorDoesNotShowTheURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hook?token=url-token-9f"
	srv.Close() // nothing listens any more
	d, err := provisioner.NewWebhookDriver(url, webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Start(context.Background(), &modelgate.Workspace{ID: "x"}, nil)
	if err == nil || strings.Contains(err.Error(), "url-token-9f") || strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("error: %v", err)
	}
}

func TestNewWebhookDriver_RefusesBadURLAndMissingSecret(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ url, secret string }{
		{"ftp://example.com/hook", webhookSecret},
		{"/relative", webhookSecret},
		{"https://example.com/hook", ""},
	} {
		if _, err := provisioner.NewWebhookDriver(c.url, c.secret); err == nil {
			t.Errorf("NewWebhookDriver(%q, %q) accepted it", c.url, c.secret)
		}
	}
}
