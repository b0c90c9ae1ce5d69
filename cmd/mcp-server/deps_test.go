package main_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// notLinked are the import paths (and path prefixes, ending in "/") that
// must stay out of the server binary. Prometheus' Go client, with its
// protobuf types, procfs, expvar and its default registry's set-up, cost
// 3.5 MB of binary, 2 MB of idle memory and about 1 ms of every start
// (docs/performance.md, issue 12); package metrics writes the text format
// itself. Tests may use Prometheus' parser, through metrics/metricstest,
// which is why that package must stay out too.
var notLinked = []string{
	"github.com/prometheus/",
	"google.golang.org/protobuf/",
	"expvar",
	"github.com/modelgate/modelgate/metrics/metricstest",
}

func forbidden(path string) bool {
	for _, p := range notLinked {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// TestBinary_LinksNoPrometheusClient lists what `make build` links into
// the binary (go list -deps, cgo off as make build has it) and fails on
// any package of notLinked.
func TestBinary_LinksNoPrometheusClient(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !slices.Contains(deps, "github.com/modelgate/modelgate/metrics") {
		t.Fatalf("go list -deps listed %d packages, without package metrics: not the binary's dependencies", len(deps))
	}
	for _, d := range deps {
		if forbidden(d) {
			t.Errorf("the binary links %s", d)
		}
	}
}

// TestMetricstest_IsImportedOnlyByTests: no package of the module imports
// metrics/metricstest outside its tests, so no other command or library
// user links Prometheus' parser through it either.
func TestMetricstest_IsImportedOnlyByTests(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/modelgate/modelgate/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 && slices.Contains(f[1:], "github.com/modelgate/modelgate/metrics/metricstest") {
			t.Errorf("%s imports metrics/metricstest outside its tests", f[0])
		}
	}
}
