package modelgate

import (
	"regexp"
	"strconv"
	"sync"
)

// OrgGrammar is the one grammar of org names: 1 to 63 characters, lower-case
// ASCII letters, digits, '.', '_' and '-', starting with a letter or a digit.
// An org name is printed in tables, logs and token listings, so it can hold
// no space, control character or upper-case twin of another org.
const OrgGrammar = `^[a-z0-9][a-z0-9._-]{0,62}$`

// orgRE is compiled on first use: a stdio start checks no org name before
// it answers initialize.
var orgRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(OrgGrammar) })

// ValidateOrg returns nil if org is a valid org name, and otherwise an
// EInvalidArgument error that states the grammar. The name is quoted with
// strconv.Quote so that a newline or a control character in it cannot
// forge a line of the message; a name longer than 80 bytes is not repeated.
func ValidateOrg(org string) error {
	if orgRE().MatchString(org) {
		return nil
	}
	shown := strconv.Quote(org)
	if len(org) > 80 {
		shown = "of " + strconv.Itoa(len(org)) + " bytes"
	}
	return Errorf(EInvalidArgument, "org name %s is invalid: an org name is 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or a digit (%s)", shown, OrgGrammar)
}
