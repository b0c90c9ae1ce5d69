package provisioner_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/provisioner"
)

// BenchmarkProvisionToOnline measures, one workspace at a time, the time
// from the provision call to the provisioner's finish of the workspace as
// online, with the exec driver running `true` and the provisioner woken by
// the store's signal (polling is off). It reports the median and the 90th
// percentile.
func BenchmarkProvisionToOnline(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			tb := newBundle(b, kind)
			p := tb.provisioner(b, tb.store, func(o *provisioner.Options) {
				o.Driver = &provisioner.ExecDriver{Command: "true"}
				o.Wake = listen(tb.store)
				o.PollInterval = time.Hour
				o.Log = zerolog.Nop()
			})
			start(b, p)
			ctx := context.Background()
			var latencies []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				res, err := tb.service.Provision(ctx, caller, provision.Request{Name: fmt.Sprintf("bench-%d", i), Model: platformModel})
				if err != nil {
					b.Fatal(err)
				}
				w := tb.waitFinished(b)
				latencies = append(latencies, time.Since(t0))
				if w.ID != res.ID || w.Status != modelgate.StatusOnline {
					b.Fatalf("finished %s as %s %s", w.ID, w.Status, w.StatusMessage)
				}
				i++
			}
			slices.Sort(latencies)
			b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
			b.ReportMetric(ms(latencies[len(latencies)*9/10]), "p90-ms")
		})
	}
}

// BenchmarkThousandWorkspacesFourProvisioners measures how long four
// provisioners, each with its own connection pool as if in its own process,
// take to carry 1,000 waiting workspaces to online on PostgreSQL with the
// exec driver running `true`.
func BenchmarkThousandWorkspacesFourProvisioners(b *testing.B) {
	const workspaces, provisioners = 1000, 4
	var total time.Duration
	for range b.N {
		b.StopTimer()
		tb := newBundle(b, "postgres")
		createConcurrently(b, tb, workspaces, 8)
		var ps []*provisioner.Provisioner
		stores := []modelgate.Store{tb.store}
		for i := range provisioners {
			store := openPostgres(b, tb.schema)
			stores = append(stores, store)
			ps = append(ps, tb.provisioner(b, store, func(o *provisioner.Options) {
				o.Owner = fmt.Sprintf("p%d", i)
				o.Driver = &provisioner.ExecDriver{Command: "true"}
				o.Wake = listen(store)
				o.Log = zerolog.Nop()
			}))
		}
		b.StartTimer()
		t0 := time.Now()
		var stops []func()
		for _, p := range ps {
			stops = append(stops, start(b, p))
		}
		for range workspaces {
			if w := tb.waitFinished(b); w.Status != modelgate.StatusOnline {
				b.Fatalf("%s is %s: %s", w.ID, w.Status, w.StatusMessage)
			}
		}
		total += time.Since(t0)
		b.StopTimer()
		for _, stop := range stops {
			stop()
		}
		// Free the connections now, not when the benchmark ends.
		for _, s := range stores {
			s.Close()
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/1000-workspaces")
}

// createConcurrently provisions n platform workspaces with the given
// number of concurrent callers.
func createConcurrently(b *testing.B, tb *testBundle, n, callers int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += callers {
				_, err := tb.service.Provision(context.Background(), caller, provision.Request{Name: fmt.Sprintf("ws-%04d", i), Model: platformModel})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
