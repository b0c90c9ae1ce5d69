package secrets

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"ANTHROPIC_API_KEY", true},
		{"_X", true},
		{"A", true},
		{"_", true},
		{"A1", true},
		{"OPENAI_API_KEY_2", true},
		{"A" + strings.Repeat("B", 127), true}, // 128 characters
		{"", false},
		{"lower", false},
		{"Mixed_Case", false},
		{"1ABC", false},
		{"with-dash", false},
		{"WITH-DASH", false},
		{"A B", false},
		{"A\n", false},
		{"ÄB", false},
		{"A=B", false},
		{"A" + strings.Repeat("B", 128), false}, // 129 characters
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
