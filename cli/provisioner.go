package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/modelgate/modelgate/provisioner"
)

func provisionerSetup(fs *flag.FlagSet) action {
	var once bool
	fs.BoolVar(&once, "once", false, "handle the workspaces claimable now, then exit")
	return func(ctx context.Context, inv *invocation) error { return runProvisioner(ctx, inv, once) }
}

// runProvisioner runs a provisioner alone: until SIGINT/SIGTERM, or with
// once over what is claimable now.
func runProvisioner(ctx context.Context, inv *invocation, once bool) error {
	a, err := openFromFlags(ctx, inv)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkKeys(ctx); err != nil {
		return err
	}
	p, err := newProvisioner(a)
	if err != nil {
		return err
	}
	if p == nil {
		return errors.New("provisioner: no driver configured: set --driver (MODELGATE_DRIVER) to exec or webhook")
	}
	if once {
		n, err := p.RunOnce(ctx)
		if err != nil {
			return fmt.Errorf("provisioner: %w", err)
		}
		fmt.Fprintf(inv.env.Stdout, "handled %d workspace(s)\n", n)
		return nil
	}
	return p.Run(ctx)
}

// newProvisioner returns the provisioner the configuration describes, or
// nil and no error when no driver is configured (workspaces then wait for a
// provisioner elsewhere). It returns an error for an unknown driver or a
// driver whose settings are missing or invalid.
func newProvisioner(a *app) (*provisioner.Provisioner, error) {
	var driver provisioner.Driver
	switch a.cfg.Driver {
	case "":
		return nil, nil
	case "exec":
		d, err := provisioner.NewExecDriver(a.cfg.ExecCommand)
		if err != nil {
			return nil, err
		}
		driver = d
	case "webhook":
		d, err := provisioner.NewWebhookDriver(a.cfg.WebhookURL, a.cfg.WebhookSecret)
		if err != nil {
			return nil, err
		}
		driver = d
	default:
		return nil, fmt.Errorf("--driver: unknown driver %q (exec, webhook, or empty for none)", a.cfg.Driver)
	}
	if a.cfg.MaxAttempts < 1 {
		return nil, fmt.Errorf("--max-attempts: must be at least 1, got %d", a.cfg.MaxAttempts)
	}
	if a.cfg.ProvisionTimeout <= 0 {
		return nil, fmt.Errorf("--provision-timeout: must be positive, got %s", a.cfg.ProvisionTimeout)
	}
	return provisioner.New(provisioner.Options{
		Store:            a.store,
		Gate:             a.gate,
		Keys:             a.keys,
		Driver:           driver,
		MaxAttempts:      a.cfg.MaxAttempts,
		ProvisionTimeout: a.cfg.ProvisionTimeout,
		Wake:             a.listen,
		Verifier:         a.service.Verifier(),
		VerifyMaxAge:     a.cfg.VerifyMaxAge,
		Metrics:          a.metrics,
		Log:              a.log.With().Str("component", "provisioner").Str("driver", a.cfg.Driver).Logger(),
	})
}
