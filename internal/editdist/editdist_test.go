package editdist

import "testing"

func TestStrings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"claude-sonet-4-6", "claude-sonnet-4-6", 1},
		{"kitten", "sitting", 3},
		{"runtim", "runtime", 1},
		{"gpt-5.6", "gpt-5.5", 1},
		{"é", "e", 1}, // one rune, not two bytes
	} {
		if got := Strings(tt.a, tt.b); got != tt.want {
			t.Errorf("Strings(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Strings(tt.b, tt.a); got != tt.want {
			t.Errorf("Strings(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
