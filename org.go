package modelgate

import "strconv"

// OrgGrammar is the one grammar of org names: 1 to 63 characters, lower-case
// ASCII letters, digits, '.', '_' and '-', starting with a letter or a digit.
// An org name is printed in tables, logs and token listings, so it can hold
// no space, control character or upper-case twin of another org.
const OrgGrammar = `^[a-z0-9][a-z0-9._-]{0,62}$`

// ValidateOrg returns nil if org is a valid org name, and otherwise an
// EInvalidArgument error that states the grammar. The name is quoted with
// strconv.Quote so that a newline or a control character in it cannot
// forge a line of the message; a name longer than 80 bytes is not repeated.
func ValidateOrg(org string) error {
	if validOrg(org) {
		return nil
	}
	shown := strconv.Quote(org)
	if len(org) > 80 {
		shown = "of " + strconv.Itoa(len(org)) + " bytes"
	}
	return Errorf(EInvalidArgument, "org name %s is invalid: an org name is 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or a digit (%s)", shown, OrgGrammar)
}

// validOrg reports whether org matches OrgGrammar. It is written out rather
// than compiled from the pattern: every start checks the configured org
// before a stdio server answers initialize, and compiling the pattern (its
// {0,62} unrolls into 62 optional steps) cost that start about 0.3 ms.
// TestValidOrg_MatchesTheGrammar holds the two to the same answers.
func validOrg(org string) bool {
	if len(org) == 0 || len(org) > 63 {
		return false
	}
	for i := 0; i < len(org); i++ {
		c := org[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
