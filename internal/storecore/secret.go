package storecore

import (
	"fmt"

	"github.com/modelgate/modelgate"
)

// CheckSecrets returns nil, or EInvalidArgument unless every secret has a
// unique name, a key id and a ciphertext. The message names the secret,
// never its value.
func CheckSecrets(secrets []modelgate.SealedSecret) error {
	seen := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		switch {
		case s.Name == "":
			return modelgate.Errorf(modelgate.EInvalidArgument, "secret name is required")
		case seen[s.Name]:
			return modelgate.Errorf(modelgate.EInvalidArgument, "secret %s is given twice", s.Name)
		case s.Sealed.KeyID == "" || len(s.Sealed.Ciphertext) == 0:
			return modelgate.Errorf(modelgate.EInvalidArgument, "secret %s is not sealed", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// RotateBatchSize is how many secrets one transaction of RotateSecrets
// reseals.
const RotateBatchSize = 100

// ResealFunc reseals the value s of the secret name of owner, in scope
// (modelgate.ScopeOrg or modelgate.ScopeWorkspace): the reseal argument of
// SecretStore.RotateSecrets.
type ResealFunc func(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error)

// SealedRow is one stored secret as RotateSecrets sees it. WorkspaceID is
// "" for an org secret.
type SealedRow struct {
	Org, WorkspaceID, Name string
	Sealed                 modelgate.Sealed
}

// Owner returns what the value is sealed to: the org for an org secret,
// org + "/" + workspace id for a workspace secret (see
// SecretStore.RotateSecrets).
func (r *SealedRow) Owner() string {
	if r.WorkspaceID == "" {
		return r.Org
	}
	return r.Org + "/" + r.WorkspaceID
}

// Reseal returns the value of r resealed by reseal, in scope. It returns an
// error that names the secret (never its value) if reseal fails or returns
// a value without a key id or ciphertext.
func Reseal(scope string, r *SealedRow, reseal ResealFunc) (modelgate.Sealed, error) {
	s, err := reseal(scope, r.Owner(), r.Name, r.Sealed)
	if err != nil {
		return modelgate.Sealed{}, fmt.Errorf("reseal %s secret %s of %s: %w", scope, r.Name, r.Owner(), err)
	}
	if s.KeyID == "" || len(s.Ciphertext) == 0 {
		return modelgate.Sealed{}, fmt.Errorf("reseal %s secret %s of %s: reseal returned an unsealed value", scope, r.Name, r.Owner())
	}
	return s, nil
}

// SecretTable is what differs between org_secrets and workspace_secrets for
// RotateSecrets: the scope, and the store's SQL. Both queries page by
// primary key, so a secret is visited once even if reseal returns a value
// under an old key.
type SecretTable struct {
	Scope string
	// First and Next select a batch of stale secrets as SealedRow columns
	// (arguments: the current key id, the limit and, for Next, the key of
	// the last row of the previous batch); Update writes one row
	// (arguments: the key, then the key id and the ciphertext).
	First, Next, Update string
	// Key returns the primary key of r as arguments of Next and Update.
	Key func(r *SealedRow) []any
}

// RotateBatch reseals, in one transaction, the next batch of stale secrets
// of t after the row after (nil: from the start). It returns how many it
// wrote and the last row of the batch, nil when there are no more.
type RotateBatch func(t SecretTable, after *SealedRow) (n int, last *SealedRow, err error)

// RotateSecrets runs batch over each table in turn, from its start until it
// reports no more rows, and returns how many secrets were written. If a
// batch fails it stops and returns the count written so far with the
// wrapped error. It returns EInvalidArgument, without calling batch, for an
// empty currentKeyID or a nil reseal.
func RotateSecrets(currentKeyID string, reseal ResealFunc, batch RotateBatch, tables ...SecretTable) (int, error) {
	if currentKeyID == "" || reseal == nil {
		return 0, modelgate.Errorf(modelgate.EInvalidArgument, "a current key id and a reseal function are required")
	}
	total := 0
	for _, t := range tables {
		var after *SealedRow
		for {
			n, last, err := batch(t, after)
			total += n
			if err != nil {
				return total, fmt.Errorf("rotate secrets: %w", err)
			}
			if last == nil {
				break
			}
			after = last
		}
	}
	return total, nil
}
