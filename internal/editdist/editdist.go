// Package editdist measures how far apart two strings are, for the
// "did you mean" of model ids (registry) and of commands and flags (cli).
package editdist

// Runes returns the Levenshtein distance of a and b: the fewest insertions,
// deletions and substitutions of one rune each that turn a into b.
func Runes(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Strings returns Runes of the runes of a and b.
func Strings(a, b string) int { return Runes([]rune(a), []rune(b)) }
