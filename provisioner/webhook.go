package provisioner

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate"
)

// Webhook headers. The signature is "sha256=" and the hex HMAC-SHA256, keyed
// with the webhook secret, of the timestamp, a ".", and the body.
const (
	HeaderTimestamp = "X-Modelgate-Timestamp"
	HeaderSignature = "X-Modelgate-Signature"
)

// SignatureTolerance is how far a webhook timestamp may be from the
// receiver's clock before VerifySignature rejects it as stale (a replay).
const SignatureTolerance = 5 * time.Minute

// webhookExcerptBytes is how much of a refusing response's body an error
// quotes.
const webhookExcerptBytes = 512

// WebhookEvent is the Event of every WebhookPayload this version sends.
const WebhookEvent = "workspace.provision"

// WebhookPayload is the JSON body the webhook driver POSTs. It never holds
// a secret value: a receiver that needs the credential must get it
// elsewhere; CredentialNames says which of the accepted names are stored.
type WebhookPayload struct {
	Event           string    `json:"event"`
	ID              string    `json:"id"`
	Org             string    `json:"org"`
	Name            string    `json:"name"`
	Role            string    `json:"role"`
	Tier            int       `json:"tier"`
	Runtime         string    `json:"runtime"`
	Model           string    `json:"model"`
	Provider        string    `json:"provider"`
	PlatformBilled  bool      `json:"platform_billed"`
	CredentialScope string    `json:"credential_scope"`
	CredentialNames []string  `json:"credential_names"`
	ParentID        string    `json:"parent_id"`
	Attempt         int       `json:"attempt"`
	CreatedAt       time.Time `json:"created_at"`
}

// WebhookDriver starts a workspace by POSTing a WebhookPayload to URL,
// signed with Secret (see HeaderSignature). A 2xx response means the
// workspace started; anything else, a redirect included, is a failed
// attempt. A receiver must be idempotent on the payload's id: a retry or a
// hand-over after a crash sends the same workspace again.
type WebhookDriver struct {
	// URL receives the POST. It never appears in an error, since it may
	// carry a token.
	URL string
	// Secret keys the HMAC signature.
	Secret string
	// Client sends the request (default: a client that follows no redirect).
	// The attempt's context bounds it.
	Client *http.Client
	// Now stamps the request (default time.Now).
	Now func() time.Time
}

// NewWebhookDriver returns a webhook driver for rawURL signing with secret.
// It returns an error if the URL is not absolute http(s) or the secret is
// empty; neither appears in the error.
func NewWebhookDriver(rawURL, secret string) (*WebhookDriver, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook driver: --webhook-url must be an absolute http or https URL")
	}
	if secret == "" {
		return nil, errors.New("webhook driver: --webhook-secret is required (requests are signed)")
	}
	return &WebhookDriver{URL: rawURL, Secret: secret}, nil
}

var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Start POSTs the workspace once. It returns nil on a 2xx response, and
// otherwise an error with the status and the start of the response body, or
// the transport failure (without the URL).
func (d *WebhookDriver) Start(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error {
	names := make([]string, 0, len(creds))
	for name := range creds {
		names = append(names, name)
	}
	slices.Sort(names)
	body, err := json.Marshal(WebhookPayload{
		Event: WebhookEvent, ID: w.ID, Org: w.Org, Name: w.Name, Role: w.Role, Tier: w.Tier,
		Runtime: w.Runtime, Model: w.Model, Provider: w.Provider, PlatformBilled: w.PlatformBilled,
		CredentialScope: w.CredentialScope, CredentialNames: names, ParentID: w.ParentID,
		Attempt: w.Attempts, CreatedAt: w.CreatedAt,
	})
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook: the configured URL does not make a request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "modelgate-provisioner")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, body))

	client := d.Client
	if client == nil {
		client = noRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which may carry a token.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook: POST failed: %w", err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, webhookExcerptBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	text := strings.TrimSpace(string(excerpt))
	if text == "" {
		return fmt.Errorf("webhook: HTTP %s", resp.Status)
	}
	return fmt.Errorf("webhook: HTTP %s: %s", resp.Status, text)
}

// Sign returns the HeaderSignature value for body sent at timestamp (Unix
// seconds, in decimal): "sha256=" and the hex HMAC-SHA256 keyed with secret
// of timestamp + "." + body. It never fails.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header is the signature of body sent at
// timestamp with secret, and timestamp is within SignatureTolerance of the
// current time. It returns false for an empty secret, a malformed timestamp
// or header, a stale or future timestamp, or a signature that differs; it
// compares in constant time.
func VerifySignature(secret, timestamp string, body []byte, header string) bool {
	return verifySignatureAt(secret, timestamp, body, header, time.Now())
}

func verifySignatureAt(secret, timestamp string, body []byte, header string, now time.Time) bool {
	if secret == "" {
		return false
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > SignatureTolerance || skew < -SignatureTolerance {
		return false
	}
	return hmac.Equal([]byte(header), []byte(Sign(secret, timestamp, body)))
}
