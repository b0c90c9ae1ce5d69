package postgres

import "context"

// ListenOrgs is listen for the tests: notify gets the org of each
// notification ("" after (re)connecting), so a test can tell its own
// notifications from those of other tests sharing the database.
func (db *DB) ListenOrgs(ctx context.Context, notify func(org string)) error {
	return db.listen(ctx, listener{channel: provisionChannel, up: func() { notify("") }, notify: notify, lost: "test listener: connection lost"})
}

// SubscribeOrgSecretChanges subscribes f to the org secret changes that
// the methods of db publish, without the notifications that report every
// store's changes.
func (db *DB) SubscribeOrgSecretChanges(f func(org string)) (cancel func()) {
	return db.orgSecretChanges.Subscribe(f)
}
