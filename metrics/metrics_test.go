package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modelgate/modelgate/metrics"
)

// TestNil_EveryHelperIsSafe is the promise components rely on: with metrics
// off they hold a nil *Metrics and call it unconditionally.
func TestNil_EveryHelperIsSafe(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ToolCall("ping", metrics.OK, "acme", time.Millisecond)
	m.GateDecision("check", "claude-code", "", metrics.OK)
	m.GateFailOpen()
	m.ProvisionerClaimed(2)
	m.ProvisionerJobDone()
	m.ProvisionerOutcome("online", "")
	m.RateLimited("http", "acme")
	m.StoreError("token_lookup")
	m.KeyEntryLink("created")
	m.CredentialCheck("anthropic-api", "valid")
	if m.Handler() != nil || m.Registry() != nil || m.OrgLabels() {
		t.Fatal("a nil Metrics serves or registers something")
	}
}

func TestNew_EveryFamilyIsExposedFromTheStart(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	m.KeyEntryLink("created")
	m.CredentialCheck("anthropic-api", "valid")
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fams {
		got[f.GetName()] = true
	}
	for _, name := range []string{
		"modelgate_gate_fail_open_total", "modelgate_provisioner_jobs_in_flight", "modelgate_provisioner_claimed_total",
		"modelgate_key_entry_links_total", "modelgate_credential_checks_total",
	} {
		if !got[name] {
			t.Errorf("%s is not exposed (have %v)", name, got)
		}
	}
}

// BenchmarkToolCall is the whole cost metrics add to a tool call: one
// counter and one histogram observation, with and without org labels.
func BenchmarkToolCall(b *testing.B) {
	for _, orgLabels := range []bool{false, true} {
		m := metrics.New(metrics.Options{OrgLabels: orgLabels, NoRuntimeMetrics: true})
		name := "org_labels=false"
		if orgLabels {
			name = "org_labels=true"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.ToolCall("list_offered_models", metrics.OK, "acme", 250*time.Microsecond)
				}
			})
		})
	}
	b.Run("nil", func(b *testing.B) {
		var m *metrics.Metrics
		for b.Loop() {
			m.ToolCall("list_offered_models", metrics.OK, "acme", 250*time.Microsecond)
		}
	})
}

func TestWatchProvisioningBacklog_ReadsTheStoreAtEachScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	n, fail := 3, false
	m.WatchProvisioningBacklog(func(context.Context) (int, error) {
		if fail {
			return 0, errors.New("store down")
		}
		return n, nil
	})
	value := func(name string) (float64, bool) {
		fams, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == name {
				var v float64
				for _, s := range f.GetMetric() {
					v += s.GetGauge().GetValue() + s.GetCounter().GetValue()
				}
				return v, true
			}
		}
		return 0, false
	}
	if v, ok := value("modelgate_provisioner_backlog"); !ok || v != 3 {
		t.Fatalf("backlog %v %v, want 3", v, ok)
	}
	n = 5
	if v, _ := value("modelgate_provisioner_backlog"); v != 5 {
		t.Fatalf("backlog %v after the store changed, want 5", v)
	}
	fail = true
	if _, ok := value("modelgate_provisioner_backlog"); ok {
		t.Fatal("a failed read still exposed a backlog value")
	}
	fail = false
	if v, _ := value("modelgate_store_errors_total"); v != 1 {
		t.Fatalf("store errors %v after one failed read, want 1", v)
	}
}
