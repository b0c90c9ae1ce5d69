package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// Offer is the answer of list_offered_models and of `mcp-server models
// --json` (CONTRACT.md §4): the runtime's arms in the order the gate tries
// them, each with what it needs.
type Offer struct {
	Runtime      string       `json:"runtime"`
	Runtimes     []string     `json:"runtimes"`
	DefaultModel string       `json:"default_model"`
	Arms         []OfferedArm `json:"arms"`
}

// OfferedArm is one arm of an Offer.
type OfferedArm struct {
	Provider       string `json:"provider"`
	PlatformBilled bool   `json:"platform_billed"`
	// AuthEnv is omitted on a platform arm: its names are the operator's.
	AuthEnv []string `json:"auth_env,omitempty"`
	// CredentialAvailable says whether the caller's org holds a usable
	// credential under one of AuthEnv; always true on a platform arm.
	CredentialAvailable bool `json:"credential_available"`
	// Models (sorted) on a closed arm, Pattern on an open one.
	Models  []string `json:"models,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
}

// Offered answers list_offered_models for the caller's org: runtime's arms
// ("" = the default runtime) narrowed by f, with credential_available
// counted by the same rule the gate uses (OrgCredentials), read at most
// once and only if a BYOK arm is shown — or remembered, while
// WatchOrgSecrets runs. If that read fails, BYOK arms are shown without a
// credential and a warning is logged. It returns INVALID_ARGUMENT for a bad
// filter or runtime argument and RUNTIME_UNSUPPORTED (details "runtime",
// "runtimes") for an unknown runtime.
func (s *Service) Offered(ctx context.Context, caller modelgate.Caller, runtime string, f registry.Filter) (*Offer, error) {
	a, err := s.readOffer(ctx, caller, runtime, f)
	if err != nil {
		return nil, err
	}
	return a.offer(s), nil
}

// OfferedJSON is Offered encoded as JSON (the bytes json.Marshal writes),
// the answer list_offered_models returns. An encoding is remembered, keyed
// by what decides every byte of it (the runtime, the filter and which of
// the arms have a credential: the catalog is the service's own), so the
// orgs that hold the same keys share one, made once. The result is shared:
// it is a string so that no caller can change it. It fails as Offered does.
func (s *Service) OfferedJSON(ctx context.Context, caller modelgate.Caller, runtime string, f registry.Filter) (string, error) {
	a, err := s.readOffer(ctx, caller, runtime, f)
	if err != nil {
		return "", err
	}
	key, cacheable := a.key(f)
	if cacheable {
		if enc, ok := s.offers.get(key); ok {
			return enc, nil
		}
	}
	b, err := json.Marshal(a.offer(s))
	if err != nil {
		return "", fmt.Errorf("encode offer: %w", err)
	}
	enc := string(b)
	if cacheable {
		s.offers.put(key, enc)
	}
	return enc, nil
}

// offerArms are what an Offer is made of: the runtime's arms after the
// filter, and whether the caller's org holds a credential for each.
type offerArms struct {
	runtime string
	arms    []registry.ArmOffer
	// held[i] is the credential_available of arms[i].
	held []bool
}

// readOffer validates the arguments of Offered and finds the arms and the
// org's credentials for them.
func (s *Service) readOffer(ctx context.Context, caller modelgate.Caller, runtime string, f registry.Filter) (offerArms, error) {
	// Whatever its length (up to the tools' 64 KiB bound on every string
	// argument), a runtime or provider the catalog does not name is
	// unknown, not malformed (registry.MaxNameBytes): RUNTIME_UNSUPPORTED,
	// or no arms.
	if err := checkChars("runtime", runtime); err != nil {
		return offerArms{}, err
	}
	if err := checkChars("provider", f.Provider); err != nil {
		return offerArms{}, err
	}
	cat := s.gate.Catalog()
	if runtime == "" {
		runtime = cat.DefaultRuntime()
	}
	arms, err := cat.Arms(runtime, f)
	if err != nil {
		return offerArms{}, err
	}
	out := offerArms{runtime: runtime, arms: arms, held: make([]bool, len(arms))}
	var names []string
	looked := false
	for i, a := range arms {
		if a.PlatformBilled {
			out.held[i] = true
			continue
		}
		if !looked {
			looked = true
			if names, err = s.discoveryCredentials(ctx, caller.Org); err != nil {
				s.log.Warn().Err(err).Str("org", caller.Org).Msg("list_offered_models: org secret lookup failed; reporting BYOK arms without credential")
				names = nil
			}
		}
		out.held[i] = slices.ContainsFunc(a.AuthEnv, func(n string) bool { return slices.Contains(names, n) })
	}
	return out, nil
}

// offer builds the answer.
func (a offerArms) offer(s *Service) *Offer {
	cat := s.gate.Catalog()
	out := &Offer{
		Runtime:      a.runtime,
		Runtimes:     cat.Runtimes(),
		DefaultModel: cat.PlatformDefault(a.runtime),
		Arms:         make([]OfferedArm, len(a.arms)),
	}
	for i, arm := range a.arms {
		out.Arms[i] = OfferedArm{Provider: arm.Provider, PlatformBilled: arm.PlatformBilled, AuthEnv: arm.AuthEnv,
			CredentialAvailable: a.held[i], Models: arm.Models, Pattern: arm.Pattern}
	}
	return out
}

// offerKey is what decides every byte of an answer of OfferedJSON, given
// the service's catalog.
type offerKey struct {
	runtime string
	filter  registry.Filter
	// held has bit i set when arm i has credential_available.
	held uint64
}

// key returns the key of the answer; cacheable is false for an answer
// without arms (a filter naming no provider of the runtime: any text may
// get there, and the cache must hold only what the catalog can name) and
// for one of more than 64 arms.
func (a offerArms) key(f registry.Filter) (key offerKey, cacheable bool) {
	if len(a.arms) == 0 || len(a.arms) > 64 {
		return offerKey{}, false
	}
	key = offerKey{runtime: a.runtime, filter: f}
	for i, h := range a.held {
		if h {
			key.held |= 1 << i
		}
	}
	return key, true
}

// offerCacheSize bounds the number of encoded answers remembered: about
// 4 KB each for claude-code. The keys are bounded by the catalog (runtimes
// × providers × billing filters) times the sets of arms an org holds keys
// for, which real orgs keep few.
const offerCacheSize = 256

// offerCache remembers encoded answers of OfferedJSON. An entry never goes
// stale: every byte of it follows from its key and the catalog, which a
// service never changes.
type offerCache struct {
	mu      sync.RWMutex
	entries map[offerKey]string
}

func newOfferCache() *offerCache { return &offerCache{entries: map[offerKey]string{}} }

func (c *offerCache) get(k offerKey) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	enc, ok := c.entries[k]
	return enc, ok
}

func (c *offerCache) put(k offerKey, enc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= offerCacheSize {
		for old := range c.entries { // evict one entry, any
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = enc
}
