package provisioner_test

import (
	"context"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
	"github.com/modelgate/modelgate/provisioner"
)

func TestProvisioner_MetricsCountClaimsOutcomesAndPreflightDecisions(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.Metrics = m
		o.Gate = o.Gate.WithMetrics(m)
	})
	b.setOrgSecret(t, "ANTHROPIC_API_KEY", "sk-ant-org-value-1")
	b.provision(t, "online", platformModel, nil)
	b.provision(t, "refused", byokModel, nil)
	if _, err := b.service.DeleteOrgSecret(context.Background(), caller, "ANTHROPIC_API_KEY"); err != nil {
		t.Fatal(err)
	}
	if n := runOnce(t, p); n != 2 {
		t.Fatalf("RunOnce handled %d, want 2", n)
	}
	fams := metricstest.Scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"modelgate_provisioner_claimed_total", nil, 2},
		{"modelgate_provisioner_jobs_in_flight", nil, 0},
		{"modelgate_provisioner_outcomes_total", map[string]string{"status": modelgate.StatusOnline, "code": metrics.OK}, 1},
		{"modelgate_provisioner_outcomes_total", map[string]string{"status": modelgate.StatusFailed, "code": modelgate.EMissingCredential}, 1},
		{"modelgate_gate_decisions_total", map[string]string{"stage": "preflight", "code": metrics.OK}, 1},
		{"modelgate_gate_decisions_total", map[string]string{"stage": "preflight", "code": modelgate.EMissingCredential}, 1},
		{"modelgate_store_errors_total", nil, 0},
	} {
		if got := metricstest.Sum(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
