package postgres

import (
	"context"
	"errors"
	"strings"
)

// orgSecretsChannel is the channel that the trigger of migration 0005
// notifies, with "schema/org" as payload, whenever a row of org_secrets is
// inserted, updated or deleted. Every store sharing the database notifies
// it, whatever its schema, so a listener keeps only its own schema's.
const orgSecretsChannel = "modelgate_org_secrets"

// ListenOrgSecrets reports changes of org secrets (see
// modelgate.SecretStore) until ctx ends or db is closed; then it returns
// nil.
//
// The methods of this DB that write org secrets (SetOrgSecret,
// RecordSecretCheck, DeleteOrgSecret, RotateSecrets) report the org, or ""
// for a rotation, before they return. Every write of org_secrets, by any
// store or program on the database, sends NOTIFY modelgate_org_secrets from
// its transaction (a trigger), which the listener receives on a connection
// of its own (outside the pool) a few milliseconds after the commit. It
// calls up(true) once it listens and up(false) when the connection fails;
// then it reconnects with exponential backoff (50ms to 10s), logging each
// failure, and never gives up. A change committed while nobody listened is
// lost, which is why up(true) means "forget everything".
func (db *DB) ListenOrgSecrets(ctx context.Context, up func(bool), changed func(org string)) error {
	if up == nil || changed == nil {
		return errors.New("listen org secrets: nil callback")
	}
	schema := db.tableSchema
	cancel := db.orgSecretChanges.Subscribe(changed)
	defer cancel()
	return db.listen(ctx, listener{
		channel: orgSecretsChannel,
		name:    ":org-secrets",
		up:      func() { up(true) },
		down:    func() { up(false) },
		notify:  func(payload string) { orgSecretsNotified(schema, payload, changed) },
		lost:    "org secret listener: connection lost; discovery reads the org's secrets on every call until it is back",
	})
}

// orgSecretsNotified passes the org of a notification of schema to changed
// and ignores those of other schemas. A payload of another shape (a newer
// or older trigger) makes it forget every org: never a stale cache.
func orgSecretsNotified(schema, payload string, changed func(org string)) {
	i := strings.LastIndexByte(payload, '/')
	if i < 0 {
		changed("")
		return
	}
	if payload[:i] == schema {
		changed(payload[i+1:])
	}
}
