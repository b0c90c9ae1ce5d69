// Package modelgate holds the domain of the modelgate MCP server: the types
// every other package speaks (workspaces, sealed secrets, coded errors) and
// the interfaces between the parts (the stores).
//
// The design follows the "standard package layout": this package depends on
// nothing of the project; packages named after a dependency implement its
// interfaces (sqlite, postgres), and packages named after a concept use them
// (registry for the catalog and derivation, gate for the BYOK gate, secrets
// for sealing credentials, provision for the workspace service, provisioner
// for the backstop that starts workspaces, tools for the MCP tools, mcpserver
// for the MCP server and its transports, auth and ratelimit for the network
// front). cli holds the commands; cmd/mcp-server only calls it.
package modelgate

import (
	"context"
	"time"
)

// Workspace statuses. A workspace is created "provisioning"; the provisioner
// moves it to "online" or "failed"; deprovisioning moves it to "removed".
const (
	StatusProvisioning = "provisioning"
	StatusOnline       = "online"
	StatusFailed       = "failed"
	StatusRemoved      = "removed"
)

// Credential scopes reported by the gate: where the credential that allowed a
// workspace was found.
const (
	ScopePlatform   = "platform"   // platform-billed model: no credential needed
	ScopeWorkspace  = "workspace"  // a secret given with the provision call
	ScopeOrg        = "org"        // an org secret
	ScopeUnverified = "unverified" // allowed by the fail-open rule; the backstop decides
)

// DefaultOrg is the org a stdio server acts for when none is configured.
const DefaultOrg = "default"

// Workspace is one agent workspace of an org. Every field is persisted.
type Workspace struct {
	// ID is a random UUID. The provision service chooses it before the
	// insert (workspace secrets are sealed to it); a store generates one when
	// CreateWorkspace gets an empty ID.
	ID string `json:"id"`
	// Org is the tenant that owns the workspace. Every query is scoped by it.
	Org string `json:"-"`
	// Name is unique per org among workspaces that are not removed.
	Name string `json:"name"`
	// Role is free text describing what the workspace is for.
	Role string `json:"role"`
	// Tier is 1..4.
	Tier int `json:"tier"`
	// Runtime, Model, Provider and PlatformBilled are what the gate decided
	// at creation; the provisioner derives them again before it starts the
	// workspace and stores what it started it with.
	Runtime        string `json:"runtime"`
	Model          string `json:"model"`
	Provider       string `json:"provider"`
	PlatformBilled bool   `json:"platform_billed"`
	// CredentialScope is where the gate found the credential at creation,
	// and once online where the backstop found it.
	CredentialScope string `json:"credential_scope"`
	// Status is one of the Status constants; StatusCode and StatusMessage
	// explain a failure (for example MISSING_BYOK_CREDENTIAL).
	Status        string `json:"status"`
	StatusCode    string `json:"status_code"`
	StatusMessage string `json:"status_message"`
	// ParentID is an optional workspace of the same org.
	ParentID string `json:"parent_id"`
	// IdempotencyKey makes a repeated provision call return the first result.
	IdempotencyKey string `json:"-"`
	// Attempts counts driver attempts made by the provisioner.
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Sealed is a secret value encrypted by the secrets package. Stores keep it
// opaque: they never see a plaintext value.
type Sealed struct {
	// KeyID names the key that sealed the value, so keys can rotate.
	KeyID string
	// Ciphertext is nonce || AES-256-GCM ciphertext.
	Ciphertext []byte
}

// SealedSecret is a named sealed secret, as stored, with the verdict of its
// last live check (CONTRACT.md §8).
type SealedSecret struct {
	Name   string
	Sealed Sealed
	// CheckedAt is when a provider last gave a verdict on this value (it
	// accepted it, or, with RejectedAt set, rejected it); zero when the
	// value was never checked or no check gave a verdict (no answer, an
	// error status, a timeout). Written with the value (SetOrgSecret,
	// CreateWorkspace) and by RecordSecretCheck.
	CheckedAt time.Time
	// RejectedAt is when a provider rejected the stored value (set by
	// RecordSecretCheck after the provisioner's re-check); zero otherwise.
	// A rejected org secret counts as no key: OrgSecretNames leaves it
	// out. Storing a new value clears it.
	RejectedAt time.Time
}

// SecretInfo describes a stored secret without its value.
type SecretInfo struct {
	Name      string    `json:"key"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Caller is who a tool call acts for: the org (from configuration on stdio,
// from the bearer token on the network transports) and the token used.
type Caller struct {
	Org         string
	TokenPrefix string
	ReadOnly    bool
}

type callerKey struct{}

// WithCaller returns a context that carries c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx and false if there is none.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
