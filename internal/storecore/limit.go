package storecore

import (
	"encoding/base64"
	"strings"

	"github.com/modelgate/modelgate"
)

// WorkspaceLimit returns the EWorkspaceLimit error of an org that already
// has limit live workspaces.
func WorkspaceLimit(limit int) error {
	return modelgate.Errorf(modelgate.EWorkspaceLimit,
		"this org has reached its limit of %d live workspaces (--max-workspaces-per-org); deprovision one it no longer needs, or ask the operator to raise the limit", limit).
		WithDetail("limit", limit)
}

// SecretLimit returns the EWorkspaceLimit error of an org that already
// holds limit org secrets.
func SecretLimit(limit int) error {
	return modelgate.Errorf(modelgate.EWorkspaceLimit,
		"this org has reached its limit of %d org secrets (--max-org-secrets); replacing an existing one is allowed, or delete one it no longer needs (delete_org_secret), or ask the operator to raise the limit", limit).
		WithDetail("limit", limit)
}

// CheckSecretFilter returns nil, or EInvalidArgument for a limit outside
// 1..200. It does not look at the cursor (see DecodeSecretCursor).
func CheckSecretFilter(f modelgate.SecretFilter) error {
	if f.Limit < 1 || f.Limit > 200 {
		return modelgate.Errorf(modelgate.EInvalidArgument, "limit must be 1..200, not %d", f.Limit)
	}
	return nil
}

// secretCursorPrefix tells a cursor of org secrets from a cursor of
// workspaces.
const secretCursorPrefix = "secret "

// EncodeSecretCursor returns the cursor after the secret name: URL-safe
// base64, as the workspace cursors.
func EncodeSecretCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(secretCursorPrefix + name))
}

// DecodeSecretCursor returns the name after which the page of s starts ("" for
// the first page). It returns EInvalidArgument for a cursor
// EncodeSecretCursor did not produce.
func DecodeSecretCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	name, ok := strings.CutPrefix(string(b), secretCursorPrefix)
	if err != nil || !ok || name == "" {
		return "", modelgate.Errorf(modelgate.EInvalidArgument, "malformed cursor")
	}
	return name, nil
}

// PageSecrets returns the first limit infos and the cursor of the next
// page: the stores read limit+1 rows, so a next page exists exactly when
// there are more than limit.
func PageSecrets(infos []modelgate.SecretInfo, limit int) ([]modelgate.SecretInfo, string) {
	if len(infos) <= limit {
		return infos, ""
	}
	infos = infos[:limit]
	return infos, EncodeSecretCursor(infos[len(infos)-1].Name)
}
