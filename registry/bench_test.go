package registry_test

import (
	"os"
	"testing"

	"github.com/modelgate/modelgate/registry"
)

// Targets: a listed id derives in at most 200 ns with no allocation; an id
// that reaches the patterns (hermes has twenty open arms) in at most 2 µs.

func BenchmarkDerive_ExactId(b *testing.B) {
	c := registry.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Derive("claude-code", "claude-sonnet-4-6", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDerive_ExactIdChosenByNames(b *testing.B) {
	c := registry.Default()
	names := registry.NewNameSet("OPENAI_API_KEY", "HOME")
	b.ReportAllocs()
	for b.Loop() {
		if d, err := c.Derive("codex", "gpt-5.5", names); err != nil || d.Provider.Name != "openai-api" {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkDerive_PatternLastOpenArm(b *testing.B) {
	c := registry.Default()
	b.ReportAllocs()
	for b.Loop() {
		// byok-minimax is the last of hermes' twenty open arms, and its
		// pattern is case-insensitive, so no literal prefix short-cuts it.
		if d, err := c.Derive("hermes", "minimax/MiniMax-M2.7", nil); err != nil || d.Provider.Name != "byok-minimax" {
			b.Fatal(d, err)
		}
	}
}

func BenchmarkDerive_PatternFirstOpenArm(b *testing.B) {
	c := registry.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Derive("hermes", "openrouter/anthropic/claude-3", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDerive_Unregistered(b *testing.B) {
	c := registry.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Derive("claude-code", "claude-sonet-4-6", nil); err == nil {
			b.Fatal("derived a typo")
		}
	}
}

func BenchmarkOffered(b *testing.B) {
	c := registry.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Offered("claude-code", registry.Filter{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadDefault(b *testing.B) {
	data := defaultCatalogYAML(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.Load(data, "default.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func defaultCatalogYAML(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("default.yaml") // tests run in the package directory
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
