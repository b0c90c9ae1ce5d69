package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
)

// memStore is an in-memory TokenStore that counts TouchToken calls and can
// be made to fail.
type memStore struct {
	mu      sync.Mutex
	tokens  map[string]modelgate.Token
	hashes  map[string][]byte
	touches int
	fail    error
}

func (m *memStore) CreateToken(_ context.Context, t modelgate.Token, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[t.Prefix], m.hashes[t.Prefix] = t, hash
	return nil
}

func (m *memStore) TokenByPrefix(_ context.Context, prefix string) (*modelgate.Token, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, nil, m.fail
	}
	t, ok := m.tokens[prefix]
	if !ok {
		return nil, nil, modelgate.Errorf(modelgate.ENotFound, "no token")
	}
	return &t, m.hashes[prefix], nil
}

func (m *memStore) TouchToken(context.Context, string, time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches++
	return nil
}

func (m *memStore) ListTokens(context.Context, string) ([]modelgate.Token, error) { return nil, nil }

func (m *memStore) RevokeToken(_ context.Context, prefix string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[prefix]
	t.Revoked = true
	m.tokens[prefix] = t
	return nil
}

type testBundle struct {
	store *memStore
	auth  *auth.Authenticator
	now   *time.Time
}

func setup(t *testing.T, o auth.Options) testBundle {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := testBundle{store: &memStore{tokens: map[string]modelgate.Token{}, hashes: map[string][]byte{}}, now: &now}
	o.Now = func() time.Time { return *b.now }
	b.auth = auth.New(b.store, o)
	return b
}

// token creates a token of org and returns it.
func (b testBundle) token(t *testing.T, org string, readOnly bool) string {
	t.Helper()
	token, prefix, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b.store.CreateToken(t.Context(), modelgate.Token{Prefix: prefix, Org: org, ReadOnly: readOnly}, hash)
	return token
}

func TestNewToken_ParsesBackAndStoresOnlyTheSecretsHash(t *testing.T) {
	t.Parallel()
	token, prefix, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	p, secret, err := auth.Parse(token)
	if err != nil || p != prefix || !auth.ValidPrefix(p) {
		t.Fatalf("Parse(%q) = %q, %v; want prefix %q", token, p, err, prefix)
	}
	if !strings.HasPrefix(token, "mg_"+prefix+"_") || strings.Contains(string(hash), secret) {
		t.Fatalf("token %q, hash %x", token, hash)
	}
	if !auth.Verify(secret, hash) || auth.Verify(secret+"x", hash) || auth.Verify(secret, nil) {
		t.Fatal("Verify accepts a wrong secret or refuses the right one")
	}
	other, _, _, _ := auth.NewToken()
	if other == token {
		t.Fatal("two tokens are equal")
	}
}

func TestParse_RefusesMalformedTokens(t *testing.T) {
	t.Parallel()
	good, _, _, _ := auth.NewToken()
	for name, tok := range map[string]string{
		"empty":           "",
		"no scheme":       strings.TrimPrefix(good, "mg_"),
		"other scheme":    "gh" + good[2:],
		"short":           good[:len(good)-1],
		"long":            good + "A",
		"upper prefix":    "mg_" + strings.ToUpper(good[3:15]) + good[15:],
		"bad separator":   good[:15] + "-" + good[16:],
		"bad secret char": good[:len(good)-1] + "=",
	} {
		if _, _, err := auth.Parse(tok); modelgate.ErrorCode(err) != modelgate.EUnauthorized {
			t.Errorf("%s: Parse(%q) = %v, want UNAUTHORIZED", name, tok, err)
		}
	}
}

func TestAuthenticate_OnlyAValidUnrevokedTokenNamesACaller(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.Options{})
	valid := b.token(t, "acme", true)
	revoked := b.token(t, "acme", false)
	prefix, _, _ := auth.Parse(revoked)
	b.store.RevokeToken(t.Context(), prefix)
	unknown, _, _, _ := auth.NewToken()
	wrongSecret := valid[:len(valid)-1] + "A"
	if strings.HasSuffix(valid, "A") {
		wrongSecret = valid[:len(valid)-1] + "B"
	}

	c, err := b.auth.Authenticate(t.Context(), "Bearer "+valid)
	if err != nil || c.Org != "acme" || !c.ReadOnly || c.TokenPrefix != valid[3:15] {
		t.Fatalf("valid token: %+v, %v", c, err)
	}
	if c, err := b.auth.Authenticate(t.Context(), "bearer  "+valid); err != nil || c.Org != "acme" {
		t.Fatalf("the scheme is case-insensitive: %+v, %v", c, err)
	}
	for name, header := range map[string]string{
		"missing":      "",
		"basic":        "Basic " + valid,
		"no scheme":    valid,
		"malformed":    "Bearer mg_nope",
		"unknown":      "Bearer " + unknown,
		"wrong secret": "Bearer " + wrongSecret,
		"revoked":      "Bearer " + revoked,
	} {
		c, err := b.auth.Authenticate(t.Context(), header)
		if modelgate.ErrorCode(err) != modelgate.EUnauthorized || c != (modelgate.Caller{}) {
			t.Errorf("%s: %+v, %v; want UNAUTHORIZED", name, c, err)
		}
		if err != nil && strings.Contains(err.Error(), valid[16:]) {
			t.Errorf("%s: the error repeats the secret", name)
		}
	}
}

func TestAuthenticate_AnonymousCallerOnlyForRequestsWithoutAToken(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.Options{Anonymous: &modelgate.Caller{Org: "local"}})
	if c, err := b.auth.Authenticate(t.Context(), ""); err != nil || c.Org != "local" {
		t.Fatalf("no header: %+v, %v; want the anonymous caller", c, err)
	}
	unknown, _, _, _ := auth.NewToken()
	if _, err := b.auth.Authenticate(t.Context(), "Bearer "+unknown); modelgate.ErrorCode(err) != modelgate.EUnauthorized {
		t.Fatalf("a bad token with anonymous access: %v, want UNAUTHORIZED", err)
	}
	tok := b.token(t, "acme", false)
	if c, err := b.auth.Authenticate(t.Context(), "Bearer "+tok); err != nil || c.Org != "acme" {
		t.Fatalf("a good token with anonymous access: %+v, %v; want its org", c, err)
	}
}

func TestAuthenticate_StoreFailureIsNotUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.Options{})
	tok := b.token(t, "acme", false)
	b.store.fail = errors.New("connection refused")
	_, err := b.auth.Authenticate(t.Context(), "Bearer "+tok)
	if code := modelgate.ErrorCode(err); code != modelgate.EInternal {
		t.Fatalf("store failure: %v (%s), want an internal error", err, code)
	}
}

func TestAuthenticate_RecordsUseAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.Options{TouchInterval: time.Minute})
	tok := b.token(t, "acme", false)
	for range 5 {
		if _, err := b.auth.Authenticate(t.Context(), "Bearer "+tok); err != nil {
			t.Fatal(err)
		}
	}
	if b.store.touches != 1 {
		t.Fatalf("%d touches within a minute, want 1", b.store.touches)
	}
	*b.now = b.now.Add(time.Minute)
	b.auth.Authenticate(t.Context(), "Bearer "+tok)
	if b.store.touches != 2 {
		t.Fatalf("%d touches after a minute, want 2", b.store.touches)
	}
}

func TestMiddleware_RefusesWith401BeforeTheHandlerAndCarriesTheCaller(t *testing.T) {
	t.Parallel()
	b := setup(t, auth.Options{})
	tok := b.token(t, "acme", false)
	var got modelgate.Caller
	h := b.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = modelgate.CallerFrom(r.Context())
	}))
	serve := func(header string) *httptest.ResponseRecorder {
		got = modelgate.Caller{}
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, header := range []string{"", "Bearer mg_bad", "Bearer " + tok + "x"} {
		w := serve(header)
		var body map[string]string
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") ||
			body["code"] != modelgate.EUnauthorized || got.Org != "" {
			t.Errorf("%q: %d %q %s (handler saw %+v), want 401 with WWW-Authenticate: Bearer", header, w.Code, w.Header().Get("WWW-Authenticate"), w.Body, got)
		}
	}
	if w := serve("Bearer " + tok); w.Code != http.StatusOK || got.Org != "acme" {
		t.Fatalf("valid token: %d, caller %+v", w.Code, got)
	}
	b.store.fail = errors.New("db down")
	if w := serve("Bearer " + tok); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "db down") {
		t.Fatalf("store failure: %d %s, want 503 without detail", w.Code, w.Body)
	}
}
