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

// WorkspaceStore persists workspaces and their workspace-scope secrets.
type WorkspaceStore interface {
	// CreateWorkspace inserts the workspace and its secrets in one
	// transaction and returns the stored row (ID and timestamps filled).
	// If w.IdempotencyKey is set and a workspace of the org already has it,
	// it returns that workspace and created=false, writing nothing. It
	// returns ENameConflict when a non-removed workspace of the org has the
	// name, and ENotFound when ParentID names no workspace of the org.
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
	// WorkspaceSecrets returns the sealed workspace-scope secrets.
	WorkspaceSecrets(ctx context.Context, org, id string) ([]SealedSecret, error)
}

// SecretStore persists org secrets. Values are sealed before they arrive.
type SecretStore interface {
	// OrgSecretNames returns the names of the org's secrets: the one query
	// the gate may make.
	OrgSecretNames(ctx context.Context, org string) ([]string, error)
	// OrgSecrets returns the org's sealed secrets (for the provisioner).
	OrgSecrets(ctx context.Context, org string) ([]SealedSecret, error)
	// SetOrgSecret inserts or replaces a secret and returns its info.
	SetOrgSecret(ctx context.Context, org string, s SealedSecret) (SecretInfo, error)
	// ListOrgSecrets returns names and update times ordered by name.
	ListOrgSecrets(ctx context.Context, org string) ([]SecretInfo, error)
	// DeleteOrgSecret deletes a secret; deleted is false if there was none.
	DeleteOrgSecret(ctx context.Context, org, name string) (deleted bool, err error)
	// RotateSecrets calls reseal for every sealed value (org and workspace
	// secrets of every org) whose KeyID is not currentKeyID, and writes the
	// result, in batches of transactions. It returns how many were resealed.
	// scope is "org" or "workspace"; owner is the org for an org secret and
	// org + "/" + workspace id for a workspace secret (the sealing context).
	RotateSecrets(ctx context.Context, currentKeyID string, reseal func(scope, owner, name string, s Sealed) (Sealed, error)) (int, error)
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
	// to status (online or failed) with code and message, clears the lease
	// and records the change. It returns ENotFound if owner no longer holds
	// the lease.
	FinishWorkspace(ctx context.Context, owner string, w *Workspace, status, code, message string) error
	// RecordAttempt increments the workspace's attempts while owner holds the lease.
	RecordAttempt(ctx context.Context, owner string, w *Workspace) error
	// ExpireProvisioning fails every workspace provisioning since before
	// olderThan with PROVISION_TIMEOUT and returns them.
	ExpireProvisioning(ctx context.Context, olderThan time.Time, message string) ([]*Workspace, error)
	// StatusChanges returns the recorded changes of a workspace, oldest first.
	StatusChanges(ctx context.Context, org, id string) ([]StatusChange, error)
}

// AuditEntry is one gate decision of provision_workspace.
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
}

// AuditStore appends and reads gate decisions.
type AuditStore interface {
	// AppendAudit appends one decision (a zero At means now). It does not
	// create the org's row: a refused call writes no row but this one.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries of org ("" for every org) at or after since, oldest first.
	ListAudit(ctx context.Context, org string, since time.Time, limit int) ([]AuditEntry, error)
}
