package sqlite

import (
	"context"
	"errors"
)

// readOrgSecretVersion returns the total of org_secret_versions: the
// triggers of migration 0005 add one for every row of org_secrets any
// process inserts, updates or deletes, so any change of any org's secrets
// changes it.
func (db *DB) readOrgSecretVersion(ctx context.Context) (float64, error) {
	var v float64
	err := db.read.QueryRowContext(ctx, `SELECT total(version) FROM org_secret_versions`).Scan(&v)
	return v, err
}

// ListenOrgSecrets reports changes of org secrets (see
// modelgate.SecretStore) until ctx ends or db is closed; then it returns
// nil.
//
// The methods of this DB that write org secrets (SetOrgSecret,
// RecordSecretCheck, DeleteOrgSecret, RotateSecrets) report the org, or ""
// for a rotation, before they return. Another process may change them in
// the same file (the secret commands, or a second server): SQLite has no
// notifications across processes, so the listener reads the total of
// org_secret_versions every 250 ms, which triggers on org_secrets keep for
// every writer, and reports changed("") — forget every org — when it
// changed. A change elsewhere therefore reaches this process within about
// 250 ms. If the query fails the feed reports up(false) until it succeeds
// again.
func (db *DB) ListenOrgSecrets(ctx context.Context, up func(bool), changed func(org string)) error {
	if up == nil || changed == nil {
		return errors.New("listen org secrets: nil callback")
	}
	cancel := db.orgSecretChanges.Subscribe(changed)
	defer cancel()
	pollChanges(ctx, db, db.readOrgSecretVersion, up, func() { changed("") },
		"org secret change check failed; discovery reads the org's secrets on every call until it succeeds")
	return nil
}
