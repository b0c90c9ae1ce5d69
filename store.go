package modelgate

import (
	"context"
	"time"
)

// Store is everything modelgate persists. Two implementations pass the same
// test suite (storetest): postgres (production) and sqlite (the embedded,
// zero-setup default). Every method is scoped by org and is one transaction.
type Store interface {
	WorkspaceStore
	SecretStore
	TokenStore
	JobStore
	AuditStore
	KeyLinkStore
	// Ping returns an error when the database cannot be reached.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// NewWorkspace is what provision_workspace asks the store to create, after
// the gate has allowed it.
type NewWorkspace struct {
	Workspace Workspace
	// Secrets are the sealed workspace-scope secrets, inserted in the same
	// transaction as the workspace.
	Secrets []SealedSecret
	// Audit, if not nil, is the gate decision that allowed the workspace.
	// It is appended in the same transaction when the workspace is created,
	// and not at all when an idempotency key returns an existing workspace.
	// Only its TokenPrefix is taken as given: the rest of the entry
	// describes the created workspace (allowed, its org, id, creation time,
	// runtime, model, provider and credential scope).
	Audit *AuditEntry
	// MaxWorkspaces, when positive, is the org's limit of live (not
	// removed) workspaces: CreateWorkspace refuses with EWorkspaceLimit,
	// writing nothing, when the org already has that many. The count and
	// the insert are one decision: concurrent creates never exceed it.
	MaxWorkspaces int
}

// WorkspaceFilter selects workspaces for ListWorkspaces.
type WorkspaceFilter struct {
	// Status filters by status; "" means every status except removed.
	Status string
	// Limit is 1..200.
	Limit int
	// Cursor is the opaque next_cursor of a previous page; "" starts at the top.
	Cursor string
}

// SecretFilter selects one page of org secrets for ListOrgSecrets.
type SecretFilter struct {
	// Limit is 1..200.
	Limit int
	// Cursor is the opaque next_cursor of a previous page; "" starts at the top.
	Cursor string
}

// WorkspaceStore persists workspaces and their workspace-scope secrets.
type WorkspaceStore interface {
	// CreateWorkspace inserts the workspace and its secrets in one
	// transaction and returns the stored row (ID and timestamps filled).
	// If w.IdempotencyKey is set and a workspace of the org already has it,
	// it returns that workspace and created=false, writing nothing. It
	// returns ENameConflict when a non-removed workspace of the org has the
	// name, ENotFound when ParentID names no workspace of the org, and
	// EWorkspaceLimit when nw.MaxWorkspaces is reached (checked after the
	// idempotency key, before the parent and the name).
	CreateWorkspace(ctx context.Context, nw NewWorkspace) (w *Workspace, created bool, err error)
	// GetWorkspace returns ENotFound when the org has no workspace with id
	// (including ids of other orgs and ids that are not UUIDs).
	GetWorkspace(ctx context.Context, org, id string) (*Workspace, error)
	// ListWorkspaces returns one page ordered by (created_at, id) and the
	// cursor of the next page ("" on the last page). A malformed cursor is
	// EInvalidArgument.
	ListWorkspaces(ctx context.Context, org string, f WorkspaceFilter) ([]*Workspace, string, error)
	// DeprovisionWorkspace marks the workspace removed if confirmName equals
	// its name (else EConfirmationRequired). Removing a removed workspace
	// returns it unchanged. ENotFound as GetWorkspace.
	DeprovisionWorkspace(ctx context.Context, org, id, confirmName string) (*Workspace, error)
	// FindWorkspace returns the org's workspace created with idempotency key
	// key when key is not "", and otherwise its live (not removed)
	// workspace named name; ENotFound when there is none. provision_workspace
	// uses it to answer a repeated key with the first result, and a dry run
	// to report a name conflict.
	FindWorkspace(ctx context.Context, org, key, name string) (*Workspace, error)
	// CountLiveWorkspaces returns how many workspaces of the org are not
	// removed: what NewWorkspace.MaxWorkspaces limits.
	CountLiveWorkspaces(ctx context.Context, org string) (int, error)
	// WorkspaceSecrets returns the sealed workspace-scope secrets.
	WorkspaceSecrets(ctx context.Context, org, id string) ([]SealedSecret, error)
}

// SecretStore persists org secrets. Values are sealed before they arrive.
type SecretStore interface {
	// OrgSecretNames returns the names of the org's secrets that no
	// provider has rejected (RejectedAt zero).
	OrgSecretNames(ctx context.Context, org string) ([]string, error)
	// OrgSecrets returns the org's sealed secrets, rejected ones included,
	// with their CheckedAt and RejectedAt: the one query the gate,
	// discovery and the provisioner's backstop make to learn which of the
	// org's credentials are usable (provision.Service.OrgCredentials).
	OrgSecrets(ctx context.Context, org string) ([]SealedSecret, error)
	// SetOrgSecret inserts or replaces a secret and returns its info. It
	// stores s.CheckedAt (zero: unchecked) and clears any RejectedAt. When
	// max is positive, a new name in an org that already holds max secrets
	// is refused with EWorkspaceLimit, writing nothing; replacing the value
	// of an existing name is always allowed. The count and the insert are
	// one decision: concurrent calls never exceed max.
	SetOrgSecret(ctx context.Context, org string, s SealedSecret, max int) (SecretInfo, error)
	// RecordSecretCheck records the verdict of a re-check of a stored
	// secret: it sets checked_at to s.CheckedAt and rejected_at to
	// s.RejectedAt (zero: NULL) on the org secret (workspaceID "") or the
	// workspace secret named s.Name, only if its ciphertext is still
	// s.Sealed.Ciphertext, so a verdict on an old value never marks a new
	// one. It returns false when no row matched.
	RecordSecretCheck(ctx context.Context, org, workspaceID string, s SealedSecret) (bool, error)
	// ListOrgSecrets returns one page of names and update times ordered by
	// name, and the cursor of the next page ("" on the last page). A limit
	// outside 1..200 or a malformed cursor is EInvalidArgument.
	ListOrgSecrets(ctx context.Context, org string, f SecretFilter) ([]SecretInfo, string, error)
	// DeleteOrgSecret deletes a secret; deleted is false if there was none.
	DeleteOrgSecret(ctx context.Context, org, name string) (deleted bool, err error)
	// SecretKeyIDs returns the distinct key ids that seal any stored secret
	// (org and workspace secrets of every org), sorted: a server checks at
	// start that it holds every one.
	SecretKeyIDs(ctx context.Context) ([]string, error)
	// RotateSecrets calls reseal for every sealed value (org and workspace
	// secrets of every org) whose KeyID is not currentKeyID, and writes the
	// result, in batches of transactions. It returns how many were resealed.
	// scope is "org" or "workspace"; owner is the org for an org secret and
	// org + "/" + workspace id for a workspace secret (the sealing context).
	RotateSecrets(ctx context.Context, currentKeyID string, reseal func(scope, owner, name string, s Sealed) (Sealed, error)) (int, error)
	// ListenOrgSecrets reports changes of org secrets, so that a process
	// may cache what it derives from an org's secrets (discovery caches
	// each org's usable credential names) and still see every change
	// promptly. It runs until ctx ends or the store is closed; then it
	// returns nil. up(true) is called each time the feed starts or
	// restarts (after a lost connection), when anything may have changed
	// unseen, and up(false) when it stops being able to report changes; a
	// cache is to be trusted only between the two. changed(org) is called
	// when a row of the org's secrets may have changed (a value set,
	// replaced or deleted, a check's verdict recorded, a value resealed),
	// and changed("") when any org's may have. A change made through this
	// store is reported after its transaction ended and before the method
	// that made it returns, whether it succeeded or not (a failed commit
	// may still have written); one made by another process or replica
	// sharing the database, through any code path, within a second:
	// milliseconds after the commit on PostgreSQL, about 250 ms on the
	// embedded store. Callbacks must not block. It returns an error only
	// if a callback is nil.
	ListenOrgSecrets(ctx context.Context, up func(bool), changed func(org string)) error
}

// Token is an org API token for the network transports. Only a hash of the
// secret part is stored.
type Token struct {
	// Prefix is the public, unique first part of the token; it names the
	// token in lists, logs and the audit trail.
	Prefix    string     `json:"prefix"`
	Org       string     `json:"org"`
	Name      string     `json:"name"`
	ReadOnly  bool       `json:"read_only"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Revoked   bool       `json:"revoked"`
}

// TokenStore persists org tokens.
type TokenStore interface {
	// CreateToken stores a token with the hash of its secret.
	CreateToken(ctx context.Context, t Token, hash []byte) error
	// TokenByPrefix returns the token and its stored hash; ENotFound if none
	// (revoked tokens are returned with Revoked set).
	TokenByPrefix(ctx context.Context, prefix string) (*Token, []byte, error)
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, prefix string, at time.Time) error
	// ListTokens lists the tokens of an org ("" lists every org).
	ListTokens(ctx context.Context, org string) ([]Token, error)
	// RevokeToken revokes a token; ENotFound if there is none.
	RevokeToken(ctx context.Context, prefix string) error
}

// StatusListener is implemented by stores that signal status changes, so
// that a caller waiting for a workspace (wait_seconds) is woken by the
// change instead of reading the row again and again. Both stores implement
// it: PostgreSQL with LISTEN/NOTIFY (across processes), SQLite in-process.
type StatusListener interface {
	// ListenStatus calls changed with the id of each workspace whose
	// status changed (finished, expired, removed) after the change is
	// committed, and with "" whenever it starts listening (changes before
	// may have been missed), until ctx ends; then it returns nil. changed
	// must not block. A signal is a hint: the row is the truth.
	ListenStatus(ctx context.Context, changed func(id string)) error
}

// TokenRevocationListener is implemented by token stores that report
// revocations, so that a process may cache verified tokens (auth does) and
// still refuse a revoked one promptly. Both stores implement it.
type TokenRevocationListener interface {
	// ListenTokenRevocations reports revocations until ctx ends or the
	// store is closed; then it returns nil. up(true) is called each time
	// the feed starts or restarts (after a lost connection), when anything
	// may have been revoked unseen, and up(false) when it stops being able
	// to report revocations; a cache is to be trusted only between the two.
	// revoked(prefix) is called for a revoked token, and revoked("") when
	// some token may have been revoked (forget every cached token). A
	// revocation by the same store is reported before its RevokeToken
	// returns; one by another process or replica sharing the database
	// within a second. Callbacks must not block. It returns an error only
	// if a callback is nil.
	ListenTokenRevocations(ctx context.Context, up func(bool), revoked func(prefix string)) error
}

// StatusChange is one recorded status transition of a workspace.
type StatusChange struct {
	WorkspaceID string    `json:"workspace_id"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Code        string    `json:"code"`
	At          time.Time `json:"at"`
}

// JobStore lets provisioners claim provisioning workspaces: the row is the job.
type JobStore interface {
	// ClaimWorkspaces leases up to limit workspaces that are provisioning and
	// not leased (or whose lease expired) to owner until now+lease, so that
	// concurrent claimers never get the same row.
	ClaimWorkspaces(ctx context.Context, owner string, lease time.Duration, limit int) ([]*Workspace, error)
	// FinishWorkspace moves a workspace leased by owner from provisioning
	// to status (online or failed) with code and message, stores w's
	// Provider, PlatformBilled and CredentialScope (the backstop derives
	// them again before it starts a workspace: what it started is what the
	// row says), clears the lease and records the change. It returns
	// ENotFound if owner no longer holds the lease.
	FinishWorkspace(ctx context.Context, owner string, w *Workspace, status, code, message string) error
	// RecordAttempt increments the workspace's attempts while owner holds the lease.
	RecordAttempt(ctx context.Context, owner string, w *Workspace) error
	// HoldWorkspace sets the status message of a workspace leased by owner
	// that stays provisioning (an operator fault keeps it from starting; it
	// is claimed again once the lease expires), and sets *w to the stored
	// row. It is the only writer of a provisioning workspace's message, so
	// a non-empty one marks the workspace held (ExpireProvisioning spares
	// it) until it finishes. It records no status change. It returns ENotFound if owner no
	// longer holds the lease.
	HoldWorkspace(ctx context.Context, owner string, w *Workspace, message string) error
	// ExpireProvisioning fails with PROVISION_TIMEOUT, and returns, every
	// workspace provisioning since before olderThan that no provisioner is
	// working on (its lease, if any, has expired: an attempt in flight
	// ends within its lease, and failing the row under it would record as
	// failed a workspace its driver is starting) and that is not held for
	// an operator fault (HoldWorkspace: such a workspace stays provisioning
	// until the fault is mended, CONTRACT.md §6).
	ExpireProvisioning(ctx context.Context, olderThan time.Time, message string) ([]*Workspace, error)
	// StatusChanges returns the recorded changes of a workspace, oldest first.
	StatusChanges(ctx context.Context, org, id string) ([]StatusChange, error)
	// CountProvisioning returns how many workspaces of every org are
	// provisioning, claimed or not: the provisioners' backlog (the
	// provisioner queue depth of GET /metrics). It reads one partial index.
	CountProvisioning(ctx context.Context) (int, error)
}

// Audit events besides the gate decision of provision_workspace (Event "").
// A key link's creation is recorded on the refusal's own entry (KeyLink set);
// what happens to the link later is an entry of its own.
const (
	// AuditKeyLinkUsed: a person stored a key through the link.
	AuditKeyLinkUsed = "key_link_used"
	// AuditKeyLinkRefused: a submit or an open of the link was refused
	// (unknown or forged token, already used, cross-site post, a value the
	// secret rules refuse); Code says why.
	AuditKeyLinkRefused = "key_link_refused"
	// AuditKeyLinkExpired: the link was presented after it expired.
	AuditKeyLinkExpired = "key_link_expired"
)

// AuditEntry is one gate decision of provision_workspace, or one event of a
// key link (Event).
type AuditEntry struct {
	At              time.Time `json:"at"`
	Org             string    `json:"org"`
	TokenPrefix     string    `json:"token_prefix,omitempty"`
	Allowed         bool      `json:"allowed"`
	Code            string    `json:"code,omitempty"`
	Runtime         string    `json:"runtime"`
	Model           string    `json:"model"`
	Provider        string    `json:"provider,omitempty"`
	CredentialScope string    `json:"credential_scope,omitempty"`
	WorkspaceID     string    `json:"workspace_id,omitempty"`
	DryRun          bool      `json:"dry_run"`
	// Event is "" for a gate decision and one of the AuditKeyLink* events
	// otherwise.
	Event string `json:"event,omitempty"`
	// KeyLink is the public id of the key link the entry is about: on a
	// refusal, the link made for it; on a key link event, that link.
	KeyLink string `json:"key_link,omitempty"`
	// SecretName is the credential name a key link stored (never a value).
	SecretName string `json:"secret_name,omitempty"`
}

// Verdicts of a live credential check (CONTRACT.md §8).
const (
	// VerdictValid: the provider accepted the key.
	VerdictValid = "valid"
	// VerdictRejected: the provider rejected the key (its own
	// "unauthorized" or "forbidden").
	VerdictRejected = "rejected"
	// VerdictUnchecked: no verdict (no answer, an error status, 429, a
	// redirect, a timeout); the key is stored unchecked, never refused.
	VerdictUnchecked = "unchecked"
)

// CredentialCheck is one live check of a key with its provider, as the
// audit trail records it. It never holds the value.
type CredentialCheck struct {
	// At is when the check started (a zero At means now in AppendCredentialCheck).
	At time.Time `json:"at"`
	// Org is the org the key belongs to.
	Org string `json:"org"`
	// Provider is the catalog provider whose check was made.
	Provider string `json:"provider"`
	// Name is the credential name (for example ANTHROPIC_API_KEY).
	Name string `json:"name"`
	// Scope is "org" or "workspace"; WorkspaceID names the workspace of a
	// workspace secret re-checked by the provisioner ("" otherwise).
	Scope       string `json:"scope"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	// Verdict is one of the Verdict constants.
	Verdict string `json:"verdict"`
	// Status is the HTTP status the provider answered (0: no answer).
	Status int `json:"provider_status"`
	// Reason says why a check gave no verdict ("timeout", "redirect",
	// "connection refused", "status 500", ...); "" with a verdict. It never
	// holds the response body.
	Reason string `json:"reason,omitempty"`
	// Latency is how long the request took, to the microsecond.
	Latency time.Duration `json:"latency"`
}

// AuditStore appends and reads gate decisions and credential checks.
type AuditStore interface {
	// AppendCredentialCheck appends one credential check. Like
	// AppendAudit, it does not create the org's row.
	AppendCredentialCheck(ctx context.Context, c CredentialCheck) error
	// ListCredentialChecks returns checks of org ("" for every org) at or
	// after since, oldest first, at most limit (EInvalidArgument below 1).
	ListCredentialChecks(ctx context.Context, org string, since time.Time, limit int) ([]CredentialCheck, error)
	// AppendAudit appends one decision (a zero At means now). It does not
	// create the org's row: a refused call writes no row but this one.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries of org ("" for every org) at or after since, oldest first.
	ListAudit(ctx context.Context, org string, since time.Time, limit int) ([]AuditEntry, error)
}

// KeyLink is a one-time link where a person enters a credential for an org
// in a browser (CONTRACT.md §7). Only the hash of the link's secret token is
// stored.
type KeyLink struct {
	// ID is the public part of the token, unique across orgs: it names the
	// link in the audit trail and is what the link is looked up by.
	ID string
	// Org is the org whose secret the link stores.
	Org string
	// Provider is the provider that needs the key; Names are its accepted
	// credential names (the page offers exactly these).
	Provider string
	Names    []string
	// Runtime and Model are the refused request: why the key is needed.
	Runtime string
	Model   string
	// TokenPrefix names the API token of the refused call ("" on stdio).
	TokenPrefix string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// UsedAt is when the link was spent (nil: not yet); UsedName is the
	// name the person chose.
	UsedAt   *time.Time
	UsedName string
}

// KeyLinkRetention is how long a key link's row is kept after the link
// expired. Within it the page still answers "this link expired" (or "was
// already used"), which tells the person what to do, rather than "this link
// is not valid", which reads like a typo; a day covers a person who opens
// the link the next morning. After it the row is deleted (see
// CreateKeyLink): the audit trail keeps the link's history, so nothing is
// lost but that answer. A used link expires after it was used, so it is
// kept at least as long after its use.
const KeyLinkRetention = 24 * time.Hour

// KeyLinkSweepBatch is the most long-dead links one CreateKeyLink deletes.
// Each create adds one row and may delete this many, so the long-dead rows
// shrink by up to KeyLinkSweepBatch-1 per create whenever they have piled
// up (say, after a long pause in refusals, or rows left by a version that
// deleted none) and the work one refusal does stays small and bounded.
const KeyLinkSweepBatch = 8

// KeyLinkStore persists key links.
type KeyLinkStore interface {
	// CreateKeyLink stores a link with the hash of its secret. It does not
	// create the org's row (a refusal writes no org row). In the same
	// transaction it deletes, oldest first, at most KeyLinkSweepBatch links
	// of any org that expired more than KeyLinkRetention before
	// l.CreatedAt, so the table holds about a retention window of links
	// however long the server runs, with no background job, on whichever
	// replica refuses.
	//
	// When max is positive it also keeps the org within max unused links
	// that expire after l.CreatedAt (its live ones): if the org already
	// holds max or more, it first retires the oldest of them (those that
	// expire first), all but the max-1 that expire last, by setting their
	// expiry to l.CreatedAt, so their page says "expired" and a spend at
	// l.CreatedAt or later fails; the retention then deletes them like any
	// other expired link. So a create never fails for the cap (every
	// refusal carries a working link), and concurrent calls, on any
	// replica, never leave the org with more than max live unused links. A
	// spend racing the retirement ends either spent (the retirement skips
	// a used link) or expired, never both. It returns how many links it
	// retired.
	//
	// It returns EInvalidArgument for a link without org, id, names or
	// hash, and ENameConflict if the id is taken. On an error nothing is
	// retired or deleted either.
	CreateKeyLink(ctx context.Context, l KeyLink, hash []byte, max int) (retired int, err error)
	// KeyLinkByID returns the link and its stored hash; ENotFound if none
	// (never made, or deleted after KeyLinkRetention).
	KeyLinkByID(ctx context.Context, id string) (*KeyLink, []byte, error)
	// SpendKeyLink marks the link used at `at` with name, atomically: only
	// if it is not used and expires after at. It returns false when it was
	// not spent (unknown, used or expired), so of two concurrent calls at
	// most one returns true.
	SpendKeyLink(ctx context.Context, id, name string, at time.Time) (bool, error)
	// ReleaseKeyLink undoes SpendKeyLink(id, _, at) when storing the key
	// failed, so the person can try again; it does nothing if the link was
	// not spent at exactly at. A released link counts again against
	// CreateKeyLink's max, so the org may hold one more live unused link
	// than max until its next create retires the oldest.
	ReleaseKeyLink(ctx context.Context, id string, at time.Time) error
}
