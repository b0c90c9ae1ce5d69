package postgres

import (
	"slices"
	"testing"
)

// TestOrgSecretsNotified_KeepsOnlyItsOwnSchema: the channel is shared by
// every schema of the database, so a listener passes on only the orgs of
// its own schema, and forgets everything for a payload it cannot read.
func TestOrgSecretsNotified_KeepsOnlyItsOwnSchema(t *testing.T) {
	t.Parallel()
	var got []string
	changed := func(org string) { got = append(got, org) }
	for _, payload := range []string{"mine/acme", "other/acme", "mine/team.eu_1", "mine/", "acme", "my/schema/acme", "minex/acme"} {
		orgSecretsNotified("mine", payload, changed)
	}
	// "my/schema/acme" is schema "my/schema": not ours.
	if want := []string{"acme", "team.eu_1", "", ""}; !slices.Equal(got, want) {
		t.Fatalf("changed with %q, want %q", got, want)
	}
}
