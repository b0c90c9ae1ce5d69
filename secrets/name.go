package secrets

// maxNameLen is the longest credential name: one leading character and up
// to 127 more.
const maxNameLen = 128

// ValidName reports whether name is a valid credential name, an environment
// variable name matching ^[A-Z_][A-Z0-9_]{0,127}$. It returns false for
// anything else, including the empty string and non-ASCII letters.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
