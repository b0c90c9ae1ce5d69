package provisioner_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"pgregory.net/rapid"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
)

// This file holds the proof that issue 10 asks for: for any catalog, any
// model id and any workspace and org credentials, three things agree on
// allow or refuse and on the provider:
//
//	(a) discovery: list_offered_models's answer (provision.Service.Offered,
//	    on the real store), read as CONTRACT.md §4 says, by code written here
//	    from the contract and not from the gate;
//	(b) the create-time gate (gate.Check) with the org lookup succeeding;
//	(c) the provisioner's backstop: the real Provisioner, claiming a
//	    workspace row from a real store holding the sealed workspace and org
//	    secrets, deciding, and either failing the row or calling the driver.
//
// The workspace credentials of (b) are the drawn set less what the tool
// refuses as arguments (reserved names, blank values: (b) must refuse the
// raw set with INVALID_ARGUMENT); (c) gets the raw set as stored rows, so
// blank values and reserved names written by older code must not count
// there. Org credentials are written to the store directly, blank values
// and reserved names included.

// fataler is what agreement needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// agreementProbe is one id with one set of workspace credentials.
type agreementProbe struct {
	runtime, model string
	ws             map[string]string
}

// agreement runs probes against one catalog and one org's credentials and
// fails t on any disagreement. It returns how many probes it checked.
func agreement(t fataler, b *testBundle, cat *registry.Catalog, orgName string, org map[string]string, probes []agreementProbe) int {
	t.Helper()
	ctx := context.Background()
	keys := b.keys
	g := gate.New(cat, zerolog.Nop())
	svc := provision.New(b.store, g, keys, zerolog.Nop())
	caller := modelgate.Caller{Org: orgName}
	for name, value := range org {
		sv, err := keys.Seal(secrets.ScopeOrg, orgName, name, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.SetOrgSecret(ctx, orgName, modelgate.SealedSecret{Name: name, Sealed: sv}, 0); err != nil {
			t.Fatal(err)
		}
	}

	type outcome struct {
		allowed  bool
		code     string
		provider string
	}
	discovery := make([]outcome, len(probes))
	check := make([]outcome, len(probes))
	ids := make([]string, len(probes))
	offers := map[string]*provision.Offer{}
	for i, p := range probes {
		clean := map[string]string{}
		dirty := false
		for n, v := range p.ws {
			if cat.Reserved(n) || strings.TrimSpace(v) == "" {
				dirty = true
				continue
			}
			clean[n] = v
		}
		// (a) discovery, read as §4 says.
		offer, ok := offers[p.runtime]
		if !ok {
			var err error
			if offer, err = svc.Offered(ctx, caller, p.runtime, registry.Filter{}); err != nil && modelgate.ErrorCode(err) != modelgate.ERuntimeUnsupported {
				t.Fatalf("Offered(%q): %v", p.runtime, err)
			}
			offers[p.runtime] = offer
		}
		discovery[i] = func() outcome {
			allowed, code, provider := readOffer(offer, p.model, clean)
			return outcome{allowed, code, provider}
		}()

		// (b) the gate, with the raw and the cleaned workspace secrets.
		req := gate.Request{Org: orgName, Runtime: p.runtime, Model: p.model, WorkspaceSecrets: p.ws}
		if dirty {
			if _, err := g.Check(ctx, req, svc.OrgCredentials(orgName)); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
				t.Fatalf("Check with a blank or reserved workspace secret = %v, want INVALID_ARGUMENT", err)
			}
			req.WorkspaceSecrets = clean
		}
		dec, err := g.Check(ctx, req, svc.OrgCredentials(orgName))
		check[i] = outcome{err == nil, modelgate.ErrorCode(err), dec.Provider}
		if err != nil {
			check[i].provider, _ = detail(err, "provider")
		}

		// (c) the backstop: a row as provision_workspace would have
		// written it had it allowed, with the raw secrets.
		id := uuid.NewString()
		ids[i] = id
		sealed := make([]modelgate.SealedSecret, 0, len(p.ws))
		for n, v := range p.ws {
			sv, err := keys.Seal(secrets.ScopeWorkspace, orgName+"/"+id, n, []byte(v))
			if err != nil {
				t.Fatal(err)
			}
			sealed = append(sealed, modelgate.SealedSecret{Name: n, Sealed: sv})
		}
		w := modelgate.Workspace{ID: id, Org: orgName, Name: "w" + id, Tier: 3, Runtime: p.runtime, Model: p.model,
			Provider: "unknown", CredentialScope: modelgate.ScopeUnverified}
		if _, _, err := b.store.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: w, Secrets: sealed}); err != nil {
			t.Fatalf("create workspace row: %v", err)
		}
	}

	driver := &recorder{}
	p, err := provisioner.New(provisioner.Options{
		Store: b.store, Gate: g, Keys: keys, Driver: driver, MaxAttempts: 1,
		PollInterval: time.Hour, Log: zerolog.Nop(), Workers: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := p.RunOnce(rctx); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}

	for i, probe := range probes {
		w, err := b.store.GetWorkspace(ctx, orgName, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		var backstop outcome
		switch w.Status {
		case modelgate.StatusOnline:
			seen := driver.seen[ids[i]]
			backstop = outcome{allowed: true, provider: seen.Provider}
			// The driver gets only names the provider accepts.
			if prov, ok := cat.Provider(seen.Provider); ok {
				for n := range driver.creds[ids[i]] {
					if !prov.Accepts(n) || cat.Reserved(n) {
						t.Fatalf("driver got %s, which %s does not accept", n, seen.Provider)
					}
				}
			}
		case modelgate.StatusFailed:
			backstop = outcome{code: w.StatusCode}
			backstop.provider = providerInMessage(cat, w.StatusCode, w.StatusMessage)
		default:
			t.Fatalf("backstop left %s/%s %s: %s", probe.runtime, probe.model, w.Status, w.StatusMessage)
		}
		a, bb, c := discovery[i], check[i], backstop
		if a.allowed != bb.allowed || bb.allowed != c.allowed || a.code != bb.code || bb.code != c.code ||
			(bb.allowed && (a.provider != bb.provider || bb.provider != c.provider)) ||
			(bb.code == modelgate.EMissingCredential && (a.provider != bb.provider || bb.provider != c.provider)) {
			t.Fatalf("disagreement on runtime %q model %q, workspace names %v, org names %v:\n discovery %+v\n check     %+v\n backstop  %+v\n offer %+v",
				probe.runtime, probe.model, keysOf(probe.ws), keysOf(org), a, bb, c, offers[probe.runtime])
		}
	}
	return len(probes)
}

func detail(err error, key string) (string, bool) {
	var e *modelgate.Error
	if !errors.As(err, &e) {
		return "", false
	}
	s, ok := e.Details[key].(string)
	return s, ok
}

// providerInMessage finds the provider a MISSING_BYOK_CREDENTIAL status
// message names ("is served by P (BYOK)"); "" for other codes.
func providerInMessage(cat *registry.Catalog, code, msg string) string {
	if code != modelgate.EMissingCredential {
		return ""
	}
	m := regexp.MustCompile(`is served by (\S+) \(BYOK\)`).FindStringSubmatch(msg)
	if m == nil {
		return "?"
	}
	return m[1]
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if strings.TrimSpace(v) == "" {
			k += "(blank)"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// idSyntax is CONTRACT.md §2.2, written here from the contract.
var idSyntax = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]*$`)

// readOffer reads a list_offered_models answer as CONTRACT.md §4 tells an
// agent to, for one id and the caller's workspace credential names: it
// returns whether the id would be allowed, the refusal code otherwise, and
// the provider. offer is nil for an unknown runtime.
func readOffer(offer *provision.Offer, model string, ws map[string]string) (allowed bool, code, provider string) {
	if offer == nil {
		return false, modelgate.ERuntimeUnsupported, ""
	}
	model = strings.TrimSpace(model)
	switch {
	case model == "":
		return false, modelgate.EModelRequired, ""
	case !idSyntax.MatchString(model) || len(model) > 200 || strings.HasSuffix(model, "/") || strings.HasSuffix(model, ":"):
		return false, modelgate.EInvalidArgument, ""
	}
	byWS := func(a provision.OfferedArm) bool {
		return slices.ContainsFunc(a.AuthEnv, func(n string) bool { _, ok := ws[n]; return ok })
	}
	byAny := func(a provision.OfferedArm) bool { return byWS(a) || (!a.PlatformBilled && a.CredentialAvailable) }
	decide := func(a provision.OfferedArm) (bool, string, string) {
		if a.PlatformBilled || byAny(a) {
			return true, "", a.Provider
		}
		return false, modelgate.EMissingCredential, a.Provider
	}
	// Listed: the first listing arm the workspace's names satisfy, else the
	// first the caller's names satisfy, else the first listing it.
	var listing []provision.OfferedArm
	for _, a := range offer.Arms {
		if slices.Contains(a.Models, model) {
			listing = append(listing, a)
		}
	}
	if len(listing) > 0 {
		for _, sat := range []func(provision.OfferedArm) bool{byWS, byAny} {
			if i := slices.IndexFunc(listing, sat); i >= 0 {
				return decide(listing[i])
			}
		}
		return decide(listing[0])
	}
	// Open arms whose pattern admits it, leaving something after the match.
	var matching []provision.OfferedArm
	for _, a := range offer.Arms {
		if a.Pattern == "" {
			continue
		}
		loc := regexp.MustCompile(a.Pattern).FindStringIndex(model)
		if loc != nil && (loc[1] < len(model) || strings.HasSuffix(a.Pattern, "$")) {
			matching = append(matching, a)
		}
	}
	switch len(matching) {
	case 0:
		return false, modelgate.EUnregisteredModel, ""
	case 1:
		return decide(matching[0])
	}
	// Several: the credentials must choose exactly one, the workspace's first.
	for _, sat := range []func(provision.OfferedArm) bool{byWS, byAny} {
		var chosen []provision.OfferedArm
		for _, a := range matching {
			if sat(a) {
				chosen = append(chosen, a)
			}
		}
		if len(chosen) == 1 {
			return decide(chosen[0])
		}
	}
	return false, modelgate.EUnregisteredModel, ""
}

// Pools the generated catalogs draw from. Patterns overlap on purpose
// (^o, ^or/, (?i)^OR[:/]), one ends with $, ids are listed on several arms.
var (
	genNames    = []string{"KEY_A", "KEY_B", "KEY_C", "KEY_D", "KEY_E"}
	genReserved = []string{"MODELGATE_PLATFORM_TOKEN", "PLATFORM_SPARE_TOKEN"}
	genPatterns = []string{`^or/`, `^o`, `(?i)^OR[:/]`, `^gm-`, `^g`, `^x[:/]`, `^(ab|cd)$`, `^plat/`, `^m@`}
	genListed   = []string{"or/m1", "or/m2", "gm-1", "gm-2", "x:y", "ab", "o1", "cd", "m@3", "plat/p1"}
	// genProbes are ids that are not listed: pattern matches, near misses
	// (a bare prefix), and ids that break the syntax.
	genProbes = []string{"or/new", "OR:new", "gm-9", "o-z", "x/abc", "plat/q", "m@x", "zz",
		"or/", "OR:", "gm-", "x:", "o", "g", "ab/",
		"-or/a", "or/a b", "or/$(id)", "custom:$(id)", "", "  ", " or/m1 ", strings.Repeat("o", 201)}
	genValues = []string{"v1", "  v2  ", " ", ""}
)

// genCatalog draws a catalog in the loader's format. It always loads: the
// default runtime r0 has a platform arm listing the default model.
func genCatalog(t *rapid.T) string {
	var b strings.Builder
	b.WriteString("version: 1\ndefault_runtime: r0\ndefault_model: plat/def\nproviders:\n")
	fmt.Fprintf(&b, "  - name: platform\n    auth_env: [%s]\n    pattern: '^plat/'\n", strings.Join(genReserved, ", "))
	n := rapid.IntRange(1, 5).Draw(t, "providers")
	for i := range n {
		names := rapid.SliceOfNDistinct(rapid.SampledFrom(genNames), 1, 2, rapid.ID[string]).Draw(t, fmt.Sprintf("auth_env %d", i))
		pattern := rapid.SampledFrom(genPatterns).Draw(t, fmt.Sprintf("pattern %d", i))
		fmt.Fprintf(&b, "  - name: p%d\n    auth_env: [%s]\n    pattern: '%s'\n", i, strings.Join(names, ", "), pattern)
	}
	b.WriteString("runtimes:\n")
	for r := range rapid.IntRange(1, 2).Draw(t, "runtimes") {
		fmt.Fprintf(&b, "  - name: r%d\n    arms:\n", r)
		providers := []string{"platform"}
		for i := range n {
			providers = append(providers, fmt.Sprintf("p%d", i))
		}
		order := rapid.Permutation(providers).Draw(t, fmt.Sprintf("arm order %d", r))
		keep := rapid.IntRange(1, len(order)).Draw(t, fmt.Sprintf("arms %d", r))
		arms := order[:keep]
		if r == 0 && !slices.Contains(arms, "platform") {
			arms = append(arms, "platform")
		}
		for j, p := range arms {
			var models []string
			open := rapid.Bool().Draw(t, fmt.Sprintf("open %d/%d", r, j))
			if r == 0 && p == "platform" {
				open = false
				models = []string{"plat/def"}
			}
			if !open {
				more := rapid.SliceOfNDistinct(rapid.SampledFrom(genListed), 1, 3, rapid.ID[string]).Draw(t, fmt.Sprintf("models %d/%d", r, j))
				for _, m := range more {
					if !slices.Contains(models, m) {
						models = append(models, m)
					}
				}
			}
			fmt.Fprintf(&b, "      - provider: %s\n", p)
			if len(models) > 0 {
				fmt.Fprintf(&b, "        models: ['%s']\n", strings.Join(models, "', '"))
			}
		}
	}
	return b.String()
}

// genCreds draws credentials from names (and the reserved ones) with
// values that may be blank.
func genCreds(t *rapid.T, label string, names []string) map[string]string {
	chosen := rapid.SliceOfNDistinct(rapid.SampledFrom(names), 0, 4, rapid.ID[string]).Draw(t, label)
	out := map[string]string{}
	for _, n := range chosen {
		out[n] = rapid.SampledFrom(genValues).Draw(t, label+" "+n)
	}
	return out
}

var agreementOrgs atomic.Int64

// TestBackstopGateAndDiscoveryAgree_GeneratedCatalogs is the property of
// issue 10 over generated catalogs, on the embedded store; each draw checks
// probesPerDraw probes (a rapid run is 100 draws by default: 800 probes,
// each decided three ways, or 300 under the race detector).
func TestBackstopGateAndDiscoveryAgree_GeneratedCatalogs(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	total := 0
	rapid.Check(t, func(rt *rapid.T) {
		src := genCatalog(rt)
		cat, err := registry.Load([]byte(src), "generated.yaml")
		if err != nil {
			rt.Fatalf("generated catalog does not load: %v\n%s", err, src)
		}
		names := slices.Concat(genNames, genReserved, []string{"UNRELATED"})
		org := genCreds(rt, "org", names)
		ids := slices.Concat(genListed, genProbes)
		runtimes := append(cat.Runtimes(), "nope")
		var probes []agreementProbe
		for i := range probesPerDraw {
			probes = append(probes, agreementProbe{
				runtime: rapid.SampledFrom(runtimes).Draw(rt, fmt.Sprintf("runtime %d", i)),
				model:   rapid.SampledFrom(ids).Draw(rt, fmt.Sprintf("model %d", i)),
				ws:      genCreds(rt, fmt.Sprintf("ws %d", i), names),
			})
		}
		orgName := fmt.Sprintf("gen%d", agreementOrgs.Add(1))
		total += agreement(rt, b, cat, orgName, org, probes)
	})
	t.Logf("checked %d probes, each by discovery, the gate and the backstop", total)
}

// TestBackstopGateAndDiscoveryAgree_DefaultCatalog runs the same property
// over the default catalog: every listed id, ids its patterns admit, near
// misses, and ids that break the syntax, with credentials drawn from every
// auth_env name of the catalog (reserved ones included).
func TestBackstopGateAndDiscoveryAgree_DefaultCatalog(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	cat := registry.Default()
	var names, ids []string
	for _, p := range cat.Providers() {
		names = append(names, p.AuthEnv...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, rt := range cat.Runtimes() {
		offered, _ := cat.Offered(rt, registry.Filter{})
		for _, m := range offered {
			ids = append(ids, m.Model)
		}
	}
	ids = append(ids, "openrouter/anthropic/claude-3", "openrouter/", "anthropic/claude-opus-4-7", "glm-4.6", "claude",
		"minimax/MiniMax-M2.7", "groq:llama-3", "groq:", "custom:$(id)", "gpt-5.6", "claude-sonet-4-6", "sonnet", "MiniMax-M2.7",
		"minimax:x", "kimi-k3", "deepseek-r2", "zai/glm-5", "mimo-v2", "qwen3", "vertex:gemini", "ollama/llama3")
	slices.Sort(ids)
	ids = slices.Compact(ids)
	total := 0
	rapid.Check(t, func(rt *rapid.T) {
		org := genCreds(rt, "org", names)
		var probes []agreementProbe
		for i := range probesPerDraw {
			probes = append(probes, agreementProbe{
				runtime: rapid.SampledFrom(cat.Runtimes()).Draw(rt, fmt.Sprintf("runtime %d", i)),
				model:   rapid.SampledFrom(ids).Draw(rt, fmt.Sprintf("model %d", i)),
				ws:      genCreds(rt, fmt.Sprintf("ws %d", i), names),
			})
		}
		total += agreement(rt, b, cat, fmt.Sprintf("def%d", agreementOrgs.Add(1)), org, probes)
	})
	t.Logf("checked %d probes, each by discovery, the gate and the backstop", total)
}

// TestBackstopGateAndDiscoveryAgree_CatalogCases runs every row of
// CATALOG.md's cases table (but the fail-open row, which the backstop
// decides by design, and the argument row, which (b) refuses) through the
// same three-way agreement.
func TestBackstopGateAndDiscoveryAgree_CatalogCases(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	cat := registry.Default()
	rows := []struct {
		runtime, model string
		ws, org        map[string]string
	}{
		{"claude-code", "moonshot/kimi-k2.6", nil, nil},
		{"claude-code", "claude-sonnet-4-6", nil, nil},
		{"claude-code", "claude-sonnet-4-6", nil, map[string]string{"ANTHROPIC_API_KEY": "k"}},
		{"claude-code", "claude-sonnet-4-6", map[string]string{"ANTHROPIC_AUTH_TOKEN": "k"}, nil},
		{"claude-code", "claude-sonet-4-6", nil, nil},
		{"claude-code", "anthropic/claude-haiku-4-5", nil, nil},
		{"claude-code", "claude-sonnet-4-7", nil, nil},
		{"codex", "gpt-5.6", nil, nil},
		{"hermes", "openrouter/anthropic/claude-3", nil, map[string]string{"OPENROUTER_API_KEY": "k"}},
		{"hermes", "MiniMax-M2.7", nil, nil},
		{"openclaw", "groq:llama-3", nil, nil},
		{"claude-code", "glm-4.6", nil, map[string]string{"GLM_API_KEY": "k"}},
		{"hermes", "anthropic/claude-opus-4-7", nil, nil},
		{"hermes", "minimax/MiniMax-M2.7", nil, nil},
		{"codex", "gpt-5.5", nil, nil},
		{"codex", "gpt-5.5", nil, map[string]string{"OPENAI_API_KEY": "k"}},
		{"codex", "openai/gpt-5.4", nil, nil},
		{"google-adk", "platform:gemini-2.5-pro", nil, nil},
		{"langgraph", "anything", nil, nil},
	}
	for i, r := range rows {
		agreement(t, b, cat, fmt.Sprintf("case%d", i), r.org, []agreementProbe{{r.runtime, r.model, r.ws}})
	}
}
