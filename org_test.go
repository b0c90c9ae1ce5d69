package modelgate_test

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
)

func TestValidateOrg_OneGrammarForOrgNames(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"acme", "default", "my-team", "a", "team.eu_1", "0rg", strings.Repeat("a", 63)} {
		if err := modelgate.ValidateOrg(ok); err != nil {
			t.Errorf("ValidateOrg(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a\nb", "acme ", " acme", "Acme", "-acme", ".acme", "a/b", "a:b", "é", "a\x00", strings.Repeat("a", 64), strings.Repeat("a", 300)} {
		err := modelgate.ValidateOrg(bad)
		if modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("ValidateOrg(%q) = %v, want INVALID_ARGUMENT", bad, err)
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("the error for %q holds a raw control character: %q", bad, err)
		}
	}
}
