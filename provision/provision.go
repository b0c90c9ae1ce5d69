// Package provision is the workspace service: it validates a request, runs
// the BYOK gate, seals the workspace-scope secrets and asks the store to
// write the workspace in one transaction. The MCP tools and the people's
// commands (mcp-server workspaces, mcp-server secret …) both go through it,
// so a script and a concierge agent get the same answers.
//
// The order matters and is the contract (CONTRACT.md §3): every check runs
// before the first write, so a refused call writes nothing.
package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/internal/storecore"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/verify"
	"github.com/rs/zerolog"
)

// Argument limits (CONTRACT.md §4).
const (
	MaxNameRunes           = 255
	MaxRoleRunes           = 1000
	MaxIdempotencyKeyRunes = 128
	MaxIDBytes             = 64
	DefaultTier            = 3
)

// How much of a runtime and of a model id the audit trail keeps. They are
// not argument limits: a runtime longer than any catalog name is unknown
// (RUNTIME_UNSUPPORTED) and an id longer than the id syntax allows is
// refused with that syntax (INVALID_ARGUMENT), each by the gate in its turn.
const (
	MaxRuntimeBytes = registry.MaxNameBytes
	MaxModelBytes   = 256
)

// Service provisions and manages the workspaces and org secrets of orgs. It
// is safe for concurrent use.
type Service struct {
	store modelgate.Store
	gate  *gate.Gate
	keys  *secrets.Keyring
	log   zerolog.Logger
	// limits are the per-org caps; see WithLimits.
	limits Limits
	// verifier checks keys with their providers when they are stored
	// (CONTRACT.md §8); nil checks nothing.
	verifier *verify.Checker
	// onMissing, if set, decorates a MISSING_BYOK_CREDENTIAL refusal (key
	// entry adds its link) and returns the id it recorded, for the audit.
	onMissing func(ctx context.Context, caller modelgate.Caller, e *modelgate.Error) string
	// watch wakes Wait when the store signals a status change.
	watch *statusWatch
	// waitPoll is how often Wait reads the row without a signal.
	waitPoll time.Duration
	// creds remembers, for discovery only, each org's usable credential
	// names while WatchOrgSecrets runs; offers remembers the encoded
	// answers of OfferedJSON. Copies made by WithLimits share them.
	creds  credCache
	offers *offerCache
}

// Limits caps what one org may hold; zero means no limit. A call that
// would go past a limit is refused with WORKSPACE_LIMIT_REACHED (detail
// "limit") and writes nothing.
type Limits struct {
	// Workspaces is the most live (not removed) workspaces of an org.
	Workspaces int
	// OrgSecrets is the most org secrets of an org; replacing the value of
	// an existing one is always allowed.
	OrgSecrets int
}

// WithLimits returns a copy of s that enforces l (New's service has no
// limits). Negative limits are treated as zero.
func (s *Service) WithLimits(l Limits) *Service {
	c := *s
	c.limits = Limits{Workspaces: max(l.Workspaces, 0), OrgSecrets: max(l.OrgSecrets, 0)}
	return &c
}

// ProviderDisplayName returns the name people see for the catalog's
// provider id, and false when the catalog has no such provider.
func (s *Service) ProviderDisplayName(id string) (string, bool) {
	p, ok := s.gate.Catalog().Provider(id)
	if !ok {
		return "", false
	}
	return p.DisplayName, true
}

// OnMissingCredential sets f to decorate every MISSING_BYOK_CREDENTIAL
// refusal of Provision before it is audited and returned; f returns the id
// of the key link it added ("" for none), which the refusal's audit entry
// records. Call it before the service is used.
func (s *Service) OnMissingCredential(f func(ctx context.Context, caller modelgate.Caller, e *modelgate.Error) string) {
	s.onMissing = f
}

// New returns a service over store that decides with g and seals secrets
// with keys. If the store is a modelgate.StatusListener, Wait is woken by
// its signals.
func New(store modelgate.Store, g *gate.Gate, keys *secrets.Keyring, log zerolog.Logger) *Service {
	watch := &statusWatch{log: log, waiters: map[string]map[chan struct{}]struct{}{}}
	if l, ok := store.(modelgate.StatusListener); ok {
		watch.listen = l.ListenStatus
	}
	return &Service{store: store, gate: g, keys: keys, log: log, watch: watch, waitPoll: waitPoll,
		creds: newCredCache(credCacheTTL, credCacheSize, time.Now), offers: newOfferCache()}
}

// SetVerifier makes the service check keys with their providers when they
// are stored: org secrets (SetOrgSecret) and the workspace secrets of
// Provision, dry runs included. Call it before the service is used; nil
// (the default) checks nothing.
func (s *Service) SetVerifier(v *verify.Checker) { s.verifier = v }

// Verifier returns the checker set by SetVerifier (nil if none).
func (s *Service) Verifier() *verify.Checker { return s.verifier }

// OrgCredentials returns a lookup of the org's usable credential names for
// the gate: it reads the org's sealed secrets (one query) and counts those
// that open to a non-blank value (secrets.Keyring.OpenAll) and that no
// provider has rejected (CONTRACT.md §8), so a blank, undecryptable or
// rejected stored value never satisfies the gate. The gate calls it
// only when its decision depends on the org (gate.OrgSecretNames). It
// reads the store on every call: the gate and the provisioner's backstop
// decide with it. Only discovery answers from a cache of what it returned
// (WatchOrgSecrets).
func (s *Service) OrgCredentials(org string) gate.OrgSecretNames {
	return gate.LookupFunc(func(ctx context.Context) ([]string, error) {
		sealed, err := s.store.OrgSecrets(ctx, org)
		if err != nil {
			return nil, err
		}
		sealed = slices.DeleteFunc(sealed, func(s modelgate.SealedSecret) bool { return !s.RejectedAt.IsZero() })
		opened := s.keys.OpenAll(secrets.ScopeOrg, org, sealed)
		names := opened.Names()
		clear(opened.Values)
		return names, nil
	})
}

// Request is a provision_workspace call.
type Request struct {
	Name           string
	Runtime        string // "" = the catalog's default runtime
	Model          string
	Secrets        map[string]string
	Tier           int // 0 = DefaultTier
	Role           string
	ParentID       string
	IdempotencyKey string
	DryRun         bool
}

// Result is the answer of provision_workspace. Secret values are never in it.
type Result struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	Runtime         string `json:"runtime"`
	Model           string `json:"model"`
	Provider        string `json:"provider"`
	PlatformBilled  bool   `json:"platform_billed"`
	CredentialScope string `json:"credential_scope"`
	DryRun          bool   `json:"dry_run"`
	// StatusCode and StatusMessage explain a failed workspace (after wait_seconds).
	StatusCode    string `json:"status_code,omitempty"`
	StatusMessage string `json:"status_message,omitempty"`
}

// Provision runs the gate and, if it allows, creates the workspace (unless
// req.DryRun). It returns a *modelgate.Error for every refusal; no
// workspace, secret or org row is written then. A repeated IdempotencyKey
// returns the first result. Every decision is appended to the audit trail.
func (s *Service) Provision(ctx context.Context, caller modelgate.Caller, req Request) (*Result, error) {
	res, audited, err := s.provision(ctx, caller, &req)
	var me *modelgate.Error
	keyLink := ""
	if s.onMissing != nil && errors.As(err, &me) && me.Code == modelgate.EMissingCredential {
		keyLink = s.onMissing(ctx, caller, me)
	}
	s.audit(ctx, caller, req, res, err, audited, keyLink)
	return res, err
}

// AuditRefusal records a provision_workspace call refused before it
// reached Provision (its arguments did not decode), as Provision records
// its own refusals.
func (s *Service) AuditRefusal(ctx context.Context, caller modelgate.Caller, req Request, err error) {
	s.audit(ctx, caller, req, nil, err, false, "")
}

// audit records a provision decision in the log and, unless the workspace's
// own transaction already did (audited), in the audit table, with the key
// link made for a refusal (keyLink). An audit write that fails is logged and
// does not change the answer.
func (s *Service) audit(ctx context.Context, caller modelgate.Caller, req Request, res *Result, err error, audited bool, keyLink string) {
	e := modelgate.AuditEntry{
		At:          time.Now().UTC(),
		Org:         caller.Org,
		TokenPrefix: caller.TokenPrefix,
		Allowed:     err == nil,
		Code:        modelgate.ErrorCode(err),
		Runtime:     clean(req.Runtime, MaxRuntimeBytes),
		Model:       clean(strings.TrimSpace(req.Model), MaxModelBytes),
		DryRun:      req.DryRun,
		KeyLink:     keyLink,
	}
	if res != nil {
		e.Provider, e.CredentialScope, e.WorkspaceID = res.Provider, res.CredentialScope, res.ID
	} else if me := (*modelgate.Error)(nil); errors.As(err, &me) {
		e.Provider, _ = me.Details["provider"].(string)
	}
	ev := s.log.Info()
	if !e.Allowed {
		ev = s.log.Warn()
	}
	ev.Str("audit", "provision").Str("org", e.Org).Str("token_prefix", e.TokenPrefix).Bool("allowed", e.Allowed).
		Str("code", e.Code).Str("runtime", e.Runtime).Str("model", e.Model).Str("provider", e.Provider).
		Str("credential_scope", e.CredentialScope).Str("workspace", e.WorkspaceID).Bool("dry_run", e.DryRun).Str("key_link", e.KeyLink).
		Msg("gate decision")
	if audited {
		return
	}
	// The audit row must be written even when the call's deadline expired,
	// but briefly then: the database may be what timed out.
	grace := 5 * time.Second
	if ctx.Err() != nil {
		grace = 500 * time.Millisecond
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if aerr := s.store.AppendAudit(actx, e); aerr != nil {
		s.log.Error().Err(aerr).Str("org", e.Org).Msg("append audit entry")
	}
}

// clean makes an argument safe to store in the audit trail: valid UTF-8,
// no control characters, bounded.
func clean(v string, max int) string {
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(v, "\ufffd"))
	if len(v) > max {
		v = strings.ToValidUTF8(v[:max], "")
	}
	return v
}

// provision is Provision without the audit; audited says whether the
// create transaction wrote the audit entry.
func (s *Service) provision(ctx context.Context, caller modelgate.Caller, reqp *Request) (res *Result, audited bool, err error) {
	req := *reqp
	defer func() { reqp.Runtime = req.Runtime }()
	if req.Runtime == "" {
		req.Runtime = s.gate.Catalog().DefaultRuntime()
	}
	if req.Tier == 0 {
		req.Tier = DefaultTier
	}
	// validate sees the secret values as given (gate.ValidateSecret bounds
	// them before it trims them); they are stored trimmed (CONTRACT.md §2).
	if err := s.validate(req); err != nil {
		return nil, false, err
	}
	if req.Secrets != nil {
		trimmed := make(map[string]string, len(req.Secrets))
		for name, value := range req.Secrets {
			trimmed[name] = strings.TrimSpace(value)
		}
		req.Secrets = trimmed
	}
	// A repeated idempotency key answers with the first result, whatever
	// has changed since (a deleted key, other arguments): the one query a
	// call with a key makes before the gate.
	if req.IdempotencyKey != "" {
		first, err := s.store.FindWorkspace(ctx, caller.Org, req.IdempotencyKey, "")
		if err == nil {
			r := resultOf(first)
			r.DryRun = req.DryRun
			return r, false, nil
		}
		if modelgate.ErrorCode(err) != modelgate.ENotFound {
			return nil, false, err
		}
	}
	dec, err := s.gate.Check(ctx, gate.Request{
		Org:              caller.Org,
		Runtime:          req.Runtime,
		Model:            req.Model,
		WorkspaceSecrets: req.Secrets,
	}, s.OrgCredentials(caller.Org))
	if err != nil {
		return nil, false, err
	}
	// The live check, after every other check (it is the slow one) and
	// before any write: a key the provider rejects creates nothing.
	checkedAt, err := s.checkWorkspaceSecrets(ctx, caller, dec, req.Secrets)
	if err != nil {
		return nil, false, err
	}

	w := modelgate.Workspace{
		ID:              uuid.NewString(),
		Org:             caller.Org,
		Name:            req.Name,
		Role:            req.Role,
		Tier:            req.Tier,
		Runtime:         dec.Runtime,
		Model:           dec.Model,
		Provider:        dec.Provider,
		PlatformBilled:  dec.PlatformBilled,
		CredentialScope: dec.CredentialScope,
		Status:          modelgate.StatusProvisioning,
		ParentID:        req.ParentID,
		IdempotencyKey:  req.IdempotencyKey,
	}
	if req.DryRun {
		// Every check the insert would make: the limit, the name, then
		// the parent.
		if s.limits.Workspaces > 0 {
			n, err := s.store.CountLiveWorkspaces(ctx, caller.Org)
			if err != nil {
				return nil, false, err
			}
			if n >= s.limits.Workspaces {
				return nil, false, storecore.WorkspaceLimit(s.limits.Workspaces)
			}
		}
		_, err := s.store.FindWorkspace(ctx, caller.Org, "", req.Name)
		if err == nil {
			return nil, false, modelgate.Errorf(modelgate.ENameConflict, "a workspace named %q already exists", req.Name)
		}
		if modelgate.ErrorCode(err) != modelgate.ENotFound {
			return nil, false, err
		}
		if req.ParentID != "" {
			if _, err := s.store.GetWorkspace(ctx, caller.Org, req.ParentID); err != nil {
				return nil, false, parentErr(err)
			}
		}
		w.ID = ""
		r := resultOf(&w)
		r.DryRun = true
		return r, false, nil
	}

	sealed := make([]modelgate.SealedSecret, 0, len(req.Secrets))
	for name, value := range req.Secrets {
		sv, err := s.keys.Seal(secrets.ScopeWorkspace, caller.Org+"/"+w.ID, name, []byte(value))
		if err != nil {
			return nil, false, fmt.Errorf("seal workspace secret %s: %w", name, err)
		}
		sealed = append(sealed, modelgate.SealedSecret{Name: name, Sealed: sv, CheckedAt: checkedAt[name]})
	}
	decision := &modelgate.AuditEntry{
		Org: caller.Org, TokenPrefix: caller.TokenPrefix, Allowed: true, Runtime: w.Runtime, Model: w.Model,
		Provider: w.Provider, CredentialScope: w.CredentialScope,
	}
	stored, created, err := s.store.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: w, Secrets: sealed, Audit: decision, MaxWorkspaces: s.limits.Workspaces})
	if err != nil {
		if modelgate.ErrorCode(err) == modelgate.ENotFound {
			return nil, false, parentErr(err)
		}
		return nil, false, err
	}
	if created {
		s.log.Info().Str("org", caller.Org).Str("workspace", stored.ID).Str("status", stored.Status).Msg("workspace created")
	}
	return resultOf(stored), created, nil
}

// checkWorkspaceSecrets checks, with the derived provider, every workspace
// secret whose name its check covers (CONTRACT.md §8). A platform-billed
// model waits for nothing, and a name no check covers is never sent. It
// returns INVALID_CREDENTIAL for the first key the provider rejects, and
// otherwise the time of each check that found a key valid (a key without a
// verdict is stored unchecked).
func (s *Service) checkWorkspaceSecrets(ctx context.Context, caller modelgate.Caller, dec gate.Decision, ws map[string]string) (map[string]time.Time, error) {
	if dec.PlatformBilled || len(ws) == 0 || !s.verifier.Enabled() {
		return nil, nil
	}
	p, ok := s.gate.Catalog().Provider(dec.Provider)
	if !ok {
		return nil, nil
	}
	names := make([]string, 0, len(ws))
	for name := range ws {
		if s.verifier.Applies(p, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var checkedAt map[string]time.Time
	for _, name := range names {
		r, _ := s.verifier.Check(ctx, verify.Request{Org: caller.Org, Scope: modelgate.ScopeWorkspace, Provider: p, Name: name, Value: ws[name]})
		if err := r.Err(); err != nil {
			return nil, err
		}
		if r.Verdict == modelgate.VerdictValid {
			if checkedAt == nil {
				checkedAt = map[string]time.Time{}
			}
			checkedAt[name] = r.At
		}
	}
	return checkedAt, nil
}

func parentErr(err error) error {
	if modelgate.ErrorCode(err) == modelgate.ENotFound {
		return modelgate.Errorf(modelgate.ENotFound, "parent_id: no workspace with that id in this org")
	}
	return err
}

func resultOf(w *modelgate.Workspace) *Result {
	return &Result{
		ID: w.ID, Name: w.Name, Status: w.Status, Runtime: w.Runtime, Model: w.Model,
		Provider: w.Provider, PlatformBilled: w.PlatformBilled, CredentialScope: w.CredentialScope,
		StatusCode: w.StatusCode, StatusMessage: w.StatusMessage,
	}
}

// ResultOf returns the provision result that describes w.
func ResultOf(w *modelgate.Workspace) *Result { return resultOf(w) }

func (s *Service) validate(req Request) error {
	if err := CheckText("name", req.Name, 1, MaxNameRunes, false); err != nil {
		return err
	}
	if err := checkChars("runtime", req.Runtime); err != nil {
		return err
	}
	if err := checkChars("model", req.Model); err != nil {
		return err
	}
	if req.Tier < 1 || req.Tier > 4 {
		return modelgate.Errorf(modelgate.EInvalidArgument, "tier: must be 1..4, got %d", req.Tier)
	}
	if err := CheckText("role", req.Role, 0, MaxRoleRunes, true); err != nil {
		return err
	}
	if err := CheckText("parent_id", req.ParentID, 0, MaxIDBytes, false); err != nil {
		return err
	}
	if err := CheckText("idempotency_key", req.IdempotencyKey, 0, MaxIdempotencyKeyRunes, false); err != nil {
		return err
	}
	return s.gate.ValidateSecrets(req.Secrets)
}

// CheckText validates a text argument: valid UTF-8, min..max characters, no
// control characters (newline and tab allowed when multiline). The error
// (INVALID_ARGUMENT) names the field.
func CheckText(field, v string, min, max int, multiline bool) error {
	if !utf8.ValidString(v) {
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: not valid UTF-8", field)
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return modelgate.Errorf(modelgate.EInvalidArgument, "%s: required", field)
		}
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: at least %d characters", field, min)
	}
	if n > max {
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: at most %d characters, got %d", field, max, n)
	}
	return checkControl(field, v, multiline)
}

// checkChars validates a text argument whose length is not an argument
// rule: a runtime, a provider filter, a model id. It must be valid UTF-8
// and hold no control characters (INVALID_ARGUMENT naming the field). How
// long it is decides the answer later, in the gate's order (CONTRACT.md
// §3): a runtime or provider longer than any catalog name
// (registry.MaxNameBytes) is unknown, an id longer than the id syntax
// allows breaks it. The tools bound every string argument before this.
func checkChars(field, v string) error {
	if !utf8.ValidString(v) {
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: not valid UTF-8", field)
	}
	return checkControl(field, v, false)
}

// checkControl refuses a control character in v (newline and tab allowed
// when multiline).
func checkControl(field, v string, multiline bool) error {
	for _, r := range v {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return modelgate.Errorf(modelgate.EInvalidArgument, "%s: control character %U not allowed", field, r)
		}
	}
	return nil
}

// Get returns a workspace of the caller's org; ENotFound otherwise.
func (s *Service) Get(ctx context.Context, caller modelgate.Caller, id string) (*modelgate.Workspace, error) {
	if err := CheckText("id", id, 1, MaxIDBytes, false); err != nil {
		return nil, err
	}
	w, err := s.store.GetWorkspace(ctx, caller.Org, id)
	if err != nil {
		return nil, err
	}
	return present(w), nil
}

// present fills in what a reader needs to know about a provisioning
// workspace without a message of its own: that no provisioner has tried
// it yet, or that its driver is being tried.
func present(w *modelgate.Workspace) *modelgate.Workspace {
	if w.Status == modelgate.StatusProvisioning && w.StatusMessage == "" {
		w.StatusMessage = WaitingMessage
		if w.Attempts > 0 {
			w.StatusMessage = fmt.Sprintf(StartingMessage, w.Attempts)
		}
	}
	return w
}

// List returns one page of the caller's workspaces and the next cursor.
func (s *Service) List(ctx context.Context, caller modelgate.Caller, f modelgate.WorkspaceFilter) ([]*modelgate.Workspace, string, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 200 {
		return nil, "", modelgate.Errorf(modelgate.EInvalidArgument, "limit: must be 1..200, got %d", f.Limit)
	}
	switch f.Status {
	case "", modelgate.StatusProvisioning, modelgate.StatusOnline, modelgate.StatusFailed, modelgate.StatusRemoved:
	default:
		return nil, "", modelgate.Errorf(modelgate.EInvalidArgument, "status: must be provisioning, online, failed or removed")
	}
	if err := CheckText("cursor", f.Cursor, 0, 512, false); err != nil {
		return nil, "", err
	}
	ws, next, err := s.store.ListWorkspaces(ctx, caller.Org, f)
	for _, w := range ws {
		present(w)
	}
	return ws, next, err
}

// Deprovision marks a workspace removed once confirmName equals its name.
func (s *Service) Deprovision(ctx context.Context, caller modelgate.Caller, id, confirmName string) (*modelgate.Workspace, error) {
	if err := CheckText("id", id, 1, MaxIDBytes, false); err != nil {
		return nil, err
	}
	if err := CheckText("confirm_name", confirmName, 0, MaxNameRunes, false); err != nil {
		return nil, err
	}
	w, err := s.store.DeprovisionWorkspace(ctx, caller.Org, id, confirmName)
	if err != nil {
		return nil, err
	}
	s.log.Info().Str("org", caller.Org).Str("workspace", w.ID).Msg("workspace removed")
	return w, nil
}

// SetOrgSecret seals and stores an org secret, trimmed of surrounding white
// space. Every path that stores an org secret (the tool, the CLI, key entry)
// goes through it, so every rule applies in one place: it refuses with
// INVALID_ARGUMENT, naming the key and never the value, a name that is not a
// credential name or is reserved for the operator, and a value that is blank,
// holds a NUL byte or is longer than 16 KiB (gate.ValidateSecret; a value
// of more than 64 KiB as given is refused as too long unread). The
// value is never logged. When the name's check is unambiguous
// (verify.Checker.OrgProvider) the key is then checked with its provider: a
// rejected key is refused with INVALID_CREDENTIAL and nothing is stored; a
// valid one is stored with the time of the check; no verdict stores it
// unchecked.
func (s *Service) SetOrgSecret(ctx context.Context, caller modelgate.Caller, key, value string) (modelgate.SecretInfo, error) {
	if !secrets.ValidName(key) {
		return modelgate.SecretInfo{}, invalidKey(key)
	}
	if err := s.gate.ValidateSecret("key", "value", key, value); err != nil {
		return modelgate.SecretInfo{}, err
	}
	value = strings.TrimSpace(value)
	// The live check (CONTRACT.md §8) runs only when the name's check is
	// unambiguous (verify.Checker.OrgProvider): an org secret is stored for
	// no particular provider. A rejected key is not stored.
	var checkedAt time.Time
	if p := s.verifier.OrgProvider(key); p != nil {
		r, _ := s.verifier.Check(ctx, verify.Request{Org: caller.Org, Scope: modelgate.ScopeOrg, Provider: p, Name: key, Value: value})
		if err := r.Err(); err != nil {
			return modelgate.SecretInfo{}, err
		}
		if r.Verdict == modelgate.VerdictValid {
			checkedAt = r.At
		}
	}
	sv, err := s.keys.Seal(secrets.ScopeOrg, caller.Org, key, []byte(value))
	if err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("seal org secret %s: %w", key, err)
	}
	info, err := s.store.SetOrgSecret(ctx, caller.Org, modelgate.SealedSecret{Name: key, Sealed: sv, CheckedAt: checkedAt}, s.limits.OrgSecrets)
	if err != nil {
		return modelgate.SecretInfo{}, err
	}
	info.UpdatedAt = info.UpdatedAt.UTC().Truncate(time.Microsecond) // as list_org_secrets shows it
	s.log.Info().Str("org", caller.Org).Str("key", key).Msg("org secret set")
	return info, nil
}

// ListOrgSecrets returns one page of the names and update times of the
// org's secrets, ordered by name, and the cursor of the next page ("" on
// the last). A zero f.Limit means 50; a limit outside 1..200 or a
// malformed cursor is INVALID_ARGUMENT.
func (s *Service) ListOrgSecrets(ctx context.Context, caller modelgate.Caller, f modelgate.SecretFilter) ([]modelgate.SecretInfo, string, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 200 {
		return nil, "", modelgate.Errorf(modelgate.EInvalidArgument, "limit: must be 1..200, got %d", f.Limit)
	}
	if err := CheckText("cursor", f.Cursor, 0, 512, false); err != nil {
		return nil, "", err
	}
	return s.store.ListOrgSecrets(ctx, caller.Org, f)
}

// DeleteOrgSecret deletes an org secret; deleted is false if there was none.
func (s *Service) DeleteOrgSecret(ctx context.Context, caller modelgate.Caller, key string) (bool, error) {
	if !secrets.ValidName(key) {
		return false, invalidKey(key)
	}
	deleted, err := s.store.DeleteOrgSecret(ctx, caller.Org, key)
	if err != nil {
		return false, err
	}
	s.log.Info().Str("org", caller.Org).Str("key", key).Bool("deleted", deleted).Msg("org secret deleted")
	return deleted, nil
}

// RotateKeys re-seals every stored secret that is not under the current key.
func (s *Service) RotateKeys(ctx context.Context) (int, error) {
	return s.store.RotateSecrets(ctx, s.keys.CurrentKeyID(), func(scope, owner, name string, sv modelgate.Sealed) (modelgate.Sealed, error) {
		return s.keys.Reseal(scope, owner, name, sv)
	})
}

// invalidKey refuses a secret name without repeating it: a value pasted
// where the name goes must not come back in the error.
func invalidKey(key string) error {
	return modelgate.Errorf(modelgate.EInvalidArgument, "key: not a credential name (%d characters): names match ^[A-Z_][A-Z0-9_]{0,127}$, e.g. ANTHROPIC_API_KEY", utf8.RuneCountInString(key))
}

// WaitingMessage is the status_message of a workspace that waits for a
// provisioner (none has claimed it yet).
const WaitingMessage = "waiting for a provisioner to start it"

// StartingMessage is the status_message of a provisioning workspace whose
// driver has been tried (the number of attempts so far fills it in).
const StartingMessage = "a provisioner is starting it (attempts so far: %d)"

// MaxWaitSeconds bounds wait_seconds of provision_workspace.
const MaxWaitSeconds = 120

// waitPoll is how often Wait reads the workspace again without a signal:
// the fallback for a signal that was lost (a NOTIFY dropped while the
// listener reconnected, a SQLite file written by another process).
const waitPoll = 2 * time.Second

// Wait waits until the workspace leaves "provisioning" or d passes,
// calling tick (if not nil) about once a second with the time waited, and
// returns the last state read. It reads the row when the store signals that
// the workspace's status changed (modelgate.StatusListener), and otherwise
// every two seconds.
func (s *Service) Wait(ctx context.Context, caller modelgate.Caller, id string, d time.Duration, tick func(waited time.Duration)) (*modelgate.Workspace, error) {
	start := time.Now()
	// Subscribe before the first read, so a change between the read and
	// the subscription is not missed.
	changed, unsubscribe := s.watch.subscribe(id)
	defer unsubscribe()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	poll := time.NewTicker(s.waitPoll)
	defer poll.Stop()
	var last *modelgate.Workspace
	for {
		w, err := s.store.GetWorkspace(ctx, caller.Org, id)
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return present(last), nil // the wait ended: answer with what was last read
			}
			return nil, err
		}
		last = w
		if w.Status != modelgate.StatusProvisioning || time.Since(start) >= d {
			return present(w), nil
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return present(w), nil
			case <-deadline.C:
				break wait // read once more: the answer is the state at the deadline
			case <-changed:
				break wait
			case <-poll.C:
				break wait
			case now := <-ticker.C:
				if tick != nil {
					tick(now.Sub(start))
				}
			}
		}
	}
}
