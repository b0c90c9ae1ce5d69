// Package provisioner keeps the promise a workspace row makes: every
// workspace that provision_workspace wrote as "provisioning" ends "online" or
// "failed" with a reason, and none is started with a credential that
// vanished after it was created (CONTRACT.md §6).
//
// # The row is the job
//
// There is no queue besides the workspaces table. A Provisioner claims
// provisioning rows with the store's ClaimWorkspaces, which leases each row
// to one owner until a deadline (FOR UPDATE SKIP LOCKED on PostgreSQL, a
// write transaction on SQLite), so any number of provisioners in any number
// of processes never hold the same row at once. A provisioner that crashes
// simply stops: its leases expire and another provisioner claims the rows
// again. The attempt count is stored on the row (RecordAttempt), so
// --max-attempts holds across such hand-overs.
//
// A lease is never renewed. Instead a job runs under a deadline: its claim
// time plus the lease, less a safety margin. A driver attempt starts only if
// its whole AttemptTimeout fits before that deadline; when it does not, the
// job stops without finishing and the row is claimed again once the lease has
// expired, which doubles as the backoff. So a driver attempt always ends
// while its provisioner still holds the lease, and two provisioners never run
// a driver for the same workspace at the same time (given clocks that agree
// to within the margin). A driver must still be idempotent on the workspace
// id: an attempt that succeeded just before its provisioner died is repeated
// by the next one.
//
// # One job
//
//  1. Preflight: the same gate as provision_workspace (gate.Preflight), with
//     the stored workspace secrets and the org's current secrets, decrypted.
//     It does not fail open. A refusal fails the workspace with the gate's
//     code and message (MISSING_BYOK_CREDENTIAL says what to add), and the
//     driver is never called; but when a stored secret does not decrypt
//     (an operator fault), the workspace stays provisioning with a status
//     message naming the secret and the key id, and is retried after its
//     lease (HoldWorkspace).
//  2. Up to MaxAttempts driver attempts with backoff. The driver gets the
//     workspace and only the credentials the derived provider accepts
//     (workspace secrets first, then org secrets). Success: online. The last
//     failure: failed with DRIVER_FAILED and the driver's error text,
//     redacted of every decrypted value.
//
// The store records every status change in its events table; the
// provisioner logs each one. A sweeper fails workspaces still provisioning
// after ProvisionTimeout with PROVISION_TIMEOUT.
//
// # Waking up
//
// Run claims when the store signals a new workspace (Options.Wake: LISTEN /
// NOTIFY on PostgreSQL, an in-process signal on SQLite), when a worker frees
// up while rows may be waiting, and every PollInterval as a fallback (a
// signal is a hint, never the job).
package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/verify"
)

// Status codes the provisioner writes (CONTRACT.md §6). A preflight refusal
// writes the gate's own code, usually modelgate.EMissingCredential.
const (
	// CodeDriverFailed: every driver attempt failed; the message holds the
	// last error, redacted.
	CodeDriverFailed = modelgate.EDriverFailed
	// CodeProvisionTimeout: the workspace was still provisioning after the
	// provision timeout.
	CodeProvisionTimeout = modelgate.EProvisionTimeout
)

// Defaults of Options.
const (
	DefaultLease            = time.Minute
	DefaultAttemptTimeout   = 30 * time.Second
	DefaultMaxAttempts      = 5
	DefaultWorkers          = 16
	DefaultProvisionTimeout = 10 * time.Minute
	DefaultPollInterval     = 2 * time.Second
	DefaultVerifyMaxAge     = time.Hour
)

// maxMessageBytes bounds a status message: a driver's error text can be long.
const maxMessageBytes = 4 << 10

// finishTimeout bounds the store writes that end a job; they run even when
// Run's context has ended, so that a driver's success is not lost to a
// shutdown.
const finishTimeout = 10 * time.Second

// Driver starts a workspace. The provisioner calls Start once per attempt,
// with a context that ends at the attempt's deadline, the workspace (its
// Provider, PlatformBilled and CredentialScope as decided by the preflight,
// Attempts counting this attempt; Start must not modify it) and the credentials the derived
// provider accepts (name → value; empty for a platform-billed model).
//
// Start returns nil once the workspace has started, or an error whose text
// becomes the workspace's status message after the last attempt. The
// provisioner redacts every secret value from that text, but a driver should
// not put values there in the first place. Start must be safe for concurrent
// use and idempotent on w.ID: after a crash, a workspace may be started again.
type Driver interface {
	Start(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error
}

// DriverFunc adapts a function to Driver.
type DriverFunc func(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error

// Start calls f and returns its error.
func (f DriverFunc) Start(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error {
	return f(ctx, w, creds)
}

// Options configures New. Zero fields mean the defaults; Store, Gate, Keys
// and Driver are required.
type Options struct {
	// Store holds the rows that are the jobs.
	Store modelgate.Store
	// Gate is the gate provision_workspace uses; Preflight runs it again.
	Gate *gate.Gate
	// Keys opens the sealed workspace and org secrets.
	Keys *secrets.Keyring
	// Driver starts workspaces.
	Driver Driver
	// Owner names this provisioner in leases and logs; it must be unique
	// among running provisioners. Default: hostname-pid-random.
	Owner string
	// Lease is how long a claim holds a row (default DefaultLease). A
	// crashed provisioner's rows wait this long before another takes them.
	Lease time.Duration
	// AttemptTimeout bounds one driver attempt (default DefaultAttemptTimeout,
	// or less if the lease is too short for it). It must leave room within
	// Lease: New refuses AttemptTimeout > Lease less the safety margin.
	AttemptTimeout time.Duration
	// Workers is how many workspaces are handled at once (default
	// DefaultWorkers).
	Workers int
	// Batch is the most rows one claim takes (default Workers). A claim
	// never takes more rows than there are idle workers.
	Batch int
	// MaxAttempts is how many driver attempts a workspace gets in all,
	// across provisioners (default DefaultMaxAttempts).
	MaxAttempts int
	// Backoff is the pause after failed attempt n (1-based). Default:
	// 500ms·2^(n-1), at most 30s, with ±20% jitter.
	Backoff func(attempt int) time.Duration
	// ProvisionTimeout fails workspaces still provisioning this long after
	// creation with PROVISION_TIMEOUT (default DefaultProvisionTimeout).
	ProvisionTimeout time.Duration
	// SweepInterval is how often Run looks for timed-out workspaces
	// (default ProvisionTimeout/10, between 1s and 30s).
	SweepInterval time.Duration
	// PollInterval is how often Run claims without a wake-up (default
	// DefaultPollInterval): the fallback when a signal is lost.
	PollInterval time.Duration
	// Wake, if set, calls its argument whenever a workspace may have been
	// created, until ctx ends; it is the store's ListenProvision. Run
	// calls it in a goroutine and waits for it to return.
	Wake func(ctx context.Context, wake func()) error
	// Log receives one line per status change and per trouble. It never
	// receives a secret value.
	Log zerolog.Logger
	// Now is the clock the timeout sweeper measures creation times against
	// (default time.Now). Leases and attempt deadlines use the real clock.
	Now func() time.Time
	// Metrics counts claims, jobs in flight, outcomes and store failures
	// (nil: not counted).
	Metrics *metrics.Metrics
	// OnFinish, if set, is called after this provisioner moved a workspace
	// out of provisioning (online or failed, including by the sweeper), with
	// the stored row. It must not block; benchmarks and tests use it.
	OnFinish func(w *modelgate.Workspace)
	// Verifier, if set and enabled, re-checks with the derived provider a
	// key whose last check is older than VerifyMaxAge before the driver
	// is called (CONTRACT.md §8; see recheck.go).
	Verifier *verify.Checker
	// VerifyMaxAge is how old a key's last check may be before the
	// workspace starts without asking again (default DefaultVerifyMaxAge).
	VerifyMaxAge time.Duration
}

// Provisioner claims provisioning workspaces and carries each to online or
// failed. It is safe for concurrent use; Run and RunOnce may be called more
// than once, but not at the same time.
type Provisioner struct {
	opts   Options
	margin time.Duration
	log    zerolog.Logger
}

// New returns a provisioner with the defaults filled in. It returns an error
// when Store, Gate, Keys or Driver is nil, or when a duration or count is
// negative, or when AttemptTimeout does not fit in Lease.
func New(opts Options) (*Provisioner, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("provisioner: no store")
	case opts.Gate == nil:
		return nil, errors.New("provisioner: no gate")
	case opts.Keys == nil:
		return nil, errors.New("provisioner: no keyring")
	case opts.Driver == nil:
		return nil, errors.New("provisioner: no driver (workspaces would wait forever)")
	}
	if opts.Lease < 0 || opts.AttemptTimeout < 0 || opts.Workers < 0 || opts.Batch < 0 || opts.MaxAttempts < 0 ||
		opts.ProvisionTimeout < 0 || opts.SweepInterval < 0 || opts.PollInterval < 0 {
		return nil, errors.New("provisioner: durations and counts must not be negative")
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	margin := min(5*time.Second, opts.Lease/10)
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = min(DefaultAttemptTimeout, opts.Lease-margin)
	}
	if opts.AttemptTimeout > opts.Lease-margin {
		return nil, fmt.Errorf("provisioner: an attempt of %s does not fit in a lease of %s (less a %s margin): lengthen the lease", opts.AttemptTimeout, opts.Lease, margin)
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Batch == 0 {
		opts.Batch = opts.Workers
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Backoff == nil {
		opts.Backoff = defaultBackoff
	}
	if opts.ProvisionTimeout == 0 {
		opts.ProvisionTimeout = DefaultProvisionTimeout
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = min(max(opts.ProvisionTimeout/10, time.Second), 30*time.Second)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.VerifyMaxAge <= 0 {
		opts.VerifyMaxAge = DefaultVerifyMaxAge
	}
	return &Provisioner{
		opts:   opts,
		margin: margin,
		log:    opts.Log.With().Str("provisioner", opts.Owner).Logger(),
	}, nil
}

// Owner returns the name this provisioner claims rows under.
func (p *Provisioner) Owner() string { return p.opts.Owner }

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func defaultBackoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt-1, 6)
	d = min(d, 30*time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*mrand.Float64()))
}

// Run provisions until ctx ends: it claims when Wake signals, when a worker
// frees up while more rows may wait, and every PollInterval; it sweeps timed
// out workspaces every SweepInterval. When ctx ends, running driver attempts
// are cancelled and their rows are left to be claimed again after their
// lease; Run waits for every job and for Wake, then returns nil. Store
// failures are logged and retried at the next wake-up or poll, never
// returned.
func (p *Provisioner) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var listener sync.WaitGroup
	if p.opts.Wake != nil {
		listener.Add(1)
		go func() {
			defer listener.Done()
			if err := p.opts.Wake(ctx, signal); err != nil && ctx.Err() == nil {
				p.log.Warn().Err(err).Msg("provision wake-ups stopped; polling only")
			}
		}()
	}
	defer listener.Wait()

	poll := time.NewTicker(p.opts.PollInterval)
	defer poll.Stop()
	sweep := time.NewTicker(p.opts.SweepInterval)
	defer sweep.Stop()

	w := p.newWorkers()
	defer w.wait()
	p.log.Info().Dur("lease", p.opts.Lease).Int("workers", p.opts.Workers).
		Int("max_attempts", p.opts.MaxAttempts).Dur("provision_timeout", p.opts.ProvisionTimeout).
		Msg("provisioner running")
	p.sweep(ctx)
	for {
		full, err := w.fill(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn().Err(err).Msg("claim failed; retrying at the next wake-up or poll")
		}
		// A freed worker matters only when all were busy: rows may wait.
		var freed <-chan struct{}
		if full {
			freed = w.freed
		}
		select {
		case <-ctx.Done():
			p.log.Info().Msg("provisioner stopping")
			return nil
		case <-wake:
		case <-poll.C:
		case <-freed:
		case <-sweep.C:
			p.sweep(ctx)
		}
	}
}

// RunOnce sweeps timed-out workspaces, then handles what is claimable now:
// it claims until a claim comes back short, waits for every job it started,
// and returns how many workspaces it handled (finished, or abandoned to
// their lease by a cancelled ctx). It returns the first store error of a
// sweep or claim, after waiting for the jobs already started.
func (p *Provisioner) RunOnce(ctx context.Context) (handled int, err error) {
	if _, err := p.sweepOnce(ctx); err != nil {
		return 0, err
	}
	w := p.newWorkers()
	for {
		full, err := w.fill(ctx)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil || !full {
			w.wait()
			return int(w.started.Load()), err
		}
		select {
		case <-w.freed:
		case <-ctx.Done():
			w.wait()
			return int(w.started.Load()), ctx.Err()
		}
	}
}

// workers runs jobs on at most Workers goroutines.
type workers struct {
	p       *Provisioner
	slots   chan struct{} // one token per running job
	freed   chan struct{} // a job ended (coalesced)
	jobs    sync.WaitGroup
	started atomic.Int64
}

func (p *Provisioner) newWorkers() *workers {
	return &workers{p: p, slots: make(chan struct{}, p.opts.Workers), freed: make(chan struct{}, 1)}
}

// fill claims rows for the idle workers and starts a job for each. full
// reports that it stopped because every worker is busy (more rows may be
// waiting); otherwise the last claim came back short.
func (w *workers) fill(ctx context.Context) (full bool, err error) {
	for {
		if ctx.Err() != nil {
			return false, nil
		}
		idle := cap(w.slots) - len(w.slots) // only fill takes slots, so this only grows meanwhile
		if idle == 0 {
			return true, nil
		}
		n := min(idle, w.p.opts.Batch)
		// The job deadline counts from before the claim: the store's lease
		// starts later, so the deadline errs on the safe side.
		deadline := time.Now().Add(w.p.opts.Lease - w.p.margin)
		claimed, err := w.p.opts.Store.ClaimWorkspaces(ctx, w.p.opts.Owner, w.p.opts.Lease, n)
		if err != nil {
			if ctx.Err() == nil {
				w.p.opts.Metrics.StoreError("claim_workspaces")
			}
			return false, fmt.Errorf("provisioner: claim: %w", err)
		}
		w.p.opts.Metrics.ProvisionerClaimed(len(claimed))
		for _, ws := range claimed {
			w.slots <- struct{}{}
			w.jobs.Add(1)
			w.started.Add(1)
			go func() {
				defer func() {
					w.p.opts.Metrics.ProvisionerJobDone()
					<-w.slots
					w.jobs.Done()
					select {
					case w.freed <- struct{}{}:
					default:
					}
				}()
				w.p.handle(ctx, ws, deadline)
			}()
		}
		if len(claimed) < n {
			return false, nil
		}
	}
}

func (w *workers) wait() { w.jobs.Wait() }

// sweep fails timed-out workspaces and logs a store failure.
func (p *Provisioner) sweep(ctx context.Context) {
	if _, err := p.sweepOnce(ctx); err != nil && ctx.Err() == nil {
		p.opts.Metrics.StoreError("expire_provisioning")
		p.log.Warn().Err(err).Msg("timeout sweep failed; retrying at the next sweep")
	}
}

func (p *Provisioner) sweepOnce(ctx context.Context) (int, error) {
	timeout := p.opts.ProvisionTimeout
	msg := fmt.Sprintf("still provisioning %s after creation (the provision timeout): no provisioner started it in time. Check that a provisioner with a driver is running and that its driver succeeds, then provision the workspace again.", timeout)
	expired, err := p.opts.Store.ExpireProvisioning(ctx, p.opts.Now().Add(-timeout), msg)
	if err != nil {
		return 0, fmt.Errorf("provisioner: sweep: %w", err)
	}
	for _, w := range expired {
		p.changed(w)
	}
	return len(expired), nil
}

// handle runs one job: preflight, then driver attempts until success, the
// last attempt, the job deadline or the end of ctx.
func (p *Provisioner) handle(ctx context.Context, w *modelgate.Workspace, deadline time.Time) {
	log := p.log.With().Str("org", w.Org).Str("workspace", w.ID).Logger()
	pf, err := p.preflight(ctx, w)
	if err != nil {
		if ctx.Err() == nil {
			p.opts.Metrics.StoreError("preflight")
			log.Warn().Err(err).Msg("preflight could not read the workspace's secrets; the row is claimed again after its lease")
		}
		return
	}
	if pf.refusal == nil {
		pf.refusal = p.recheck(ctx, w, pf) // the live check, after the gate allowed (recheck.go)
	}
	if pf.refusal != nil {
		p.finish(ctx, log, w, modelgate.StatusFailed, pf.refusal.Code, pf.refusal.Message)
		return
	}
	if pf.hold != "" {
		log.Error().Str("status_message", pf.hold).Msg("workspace held: a stored secret does not decrypt; the row is claimed again after its lease")
		if err := p.opts.Store.HoldWorkspace(ctx, p.opts.Owner, w, cleanMessage(pf.hold)); err != nil {
			p.lost(log, err, ctx.Err() != nil)
		}
		return
	}

	var lastErr string
	for {
		if w.Attempts >= p.opts.MaxAttempts {
			msg := lastErr
			if msg == "" {
				msg = "the error of the last attempt was lost when the provisioner running it stopped"
			}
			p.recordDecision(log, w, pf.decision)
			p.finish(ctx, log, w, modelgate.StatusFailed, CodeDriverFailed,
				fmt.Sprintf("the driver failed %d times; last error: %s", w.Attempts, msg))
			return
		}
		if ctx.Err() != nil {
			return // shutting down: the lease hands the row over
		}
		if time.Until(deadline) < p.opts.AttemptTimeout {
			log.Info().Int("attempts", w.Attempts).Msg("no time left in the lease for another attempt; the row is claimed again after it expires")
			return
		}
		if err := p.opts.Store.RecordAttempt(ctx, p.opts.Owner, w); err != nil {
			p.lost(log, err, ctx.Err() != nil)
			return
		}
		err := p.attempt(ctx, w, pf, deadline)
		if err == nil {
			p.recordDecision(log, w, pf.decision)
			p.finish(ctx, log, w, modelgate.StatusOnline, "", "")
			return
		}
		if ctx.Err() != nil {
			return // the attempt was cut by shutdown, not by the driver
		}
		// Made storable before it is redacted: removing NULs could join
		// the pieces of a value that NULs split (UTF-16 text) after it.
		lastErr = pf.redact(storable(err.Error()))
		log.Warn().Int("attempt", w.Attempts).Str("error", lastErr).Msg("driver attempt failed")
		if w.Attempts >= p.opts.MaxAttempts {
			continue
		}
		pause := p.opts.Backoff(w.Attempts)
		if time.Until(deadline) < pause+p.opts.AttemptTimeout {
			log.Info().Int("attempts", w.Attempts).Msg("backoff outlasts the lease; the row is claimed again after it expires")
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// recordDecision sets on w the provider, billing and credential scope the
// driver was run with (it started the workspace, or failed to), so that the
// row says how the workspace runs or what was tried. They
// can differ from the creation's: a key set or deleted since then can move
// the model to another arm (even to platform billing, where the id is
// listed there too), and a workspace allowed unverified (fail-open) now has
// a scope. A change is logged; one of billing as a warning, since it moves
// who pays.
func (p *Provisioner) recordDecision(log zerolog.Logger, w *modelgate.Workspace, d gate.Decision) {
	if w.Provider == d.Provider && w.PlatformBilled == d.PlatformBilled && w.CredentialScope == d.CredentialScope {
		return
	}
	ev := log.Info()
	if w.PlatformBilled != d.PlatformBilled {
		ev = log.Warn()
	}
	ev.Str("provider", w.Provider).Str("new_provider", d.Provider).
		Bool("platform_billed", w.PlatformBilled).Bool("new_platform_billed", d.PlatformBilled).
		Str("credential_scope", w.CredentialScope).Str("new_credential_scope", d.CredentialScope).
		Msg("the backstop ran the driver with another provider, billing or credential scope than the workspace was created with; the workspace records what it was run with")
	w.Provider, w.PlatformBilled, w.CredentialScope = d.Provider, d.PlatformBilled, d.CredentialScope
}

// attempt runs the driver once under the attempt timeout, cut short at the
// job deadline: a slow RecordAttempt may have used the room that the check
// before it saw, and the attempt must end while the lease holds.
func (p *Provisioner) attempt(ctx context.Context, w *modelgate.Workspace, pf *preflight, deadline time.Time) error {
	limit := min(p.opts.AttemptTimeout, time.Until(deadline))
	actx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	view := *w
	view.Provider, view.PlatformBilled = pf.decision.Provider, pf.decision.PlatformBilled
	view.CredentialScope = pf.decision.CredentialScope
	err := p.opts.Driver.Start(actx, &view, pf.creds)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("attempt timed out after %s: %w", max(limit, 0), err)
	}
	return err
}

// finish writes the outcome, even if ctx has ended meanwhile. A store
// failure is retried for up to finishTimeout: once a driver has started a
// workspace, losing that news to a blip would make another provisioner
// start it again after the lease.
func (p *Provisioner) finish(ctx context.Context, log zerolog.Logger, w *modelgate.Workspace, status, code, message string) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	message = cleanMessage(message)
	pause := 50 * time.Millisecond
	for {
		err := p.opts.Store.FinishWorkspace(fctx, p.opts.Owner, w, status, code, message)
		if err == nil {
			p.changed(w)
			return
		}
		// A coded error (ENotFound: the lease is gone) is an answer, not a blip.
		if modelgate.ErrorCode(err) != modelgate.EInternal || fctx.Err() != nil {
			p.lost(log, err, false)
			return
		}
		p.opts.Metrics.StoreError("finish_workspace")
		log.Warn().Err(err).Str("to", status).Msg("could not write the outcome; retrying")
		t := time.NewTimer(pause)
		select {
		case <-fctx.Done():
			t.Stop()
			p.lost(log, err, false)
			return
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// lost logs a job that can no longer write its row; an error caused by
// shutting down is not worth a warning.
func (p *Provisioner) lost(log zerolog.Logger, err error, shuttingDown bool) {
	switch {
	case modelgate.ErrorCode(err) == modelgate.ENotFound:
		log.Info().Msg("workspace left provisioning or was claimed by another provisioner meanwhile; dropping the job")
	case !shuttingDown:
		p.opts.Metrics.StoreError("write_workspace")
		log.Warn().Err(err).Msg("could not write the workspace; the row is claimed again after its lease")
	}
}

// changed logs a status change (the store has recorded it) and reports it.
func (p *Provisioner) changed(w *modelgate.Workspace) {
	ev := p.log.Info()
	if w.Status == modelgate.StatusFailed {
		ev = p.log.Warn()
	}
	ev.Str("org", w.Org).Str("workspace", w.ID).Str("from", modelgate.StatusProvisioning).
		Str("to", w.Status).Str("code", w.StatusCode).Int("attempts", w.Attempts).
		Str("status_message", w.StatusMessage).Msg("workspace status changed")
	p.opts.Metrics.ProvisionerOutcome(w.Status, w.StatusCode)
	if p.opts.OnFinish != nil {
		p.opts.OnFinish(w)
	}
}

// cleanMessage makes a status message storable: valid UTF-8, no NUL (which
// PostgreSQL text refuses) and at most maxMessageBytes.
func cleanMessage(s string) string {
	s = storable(s)
	if len(s) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// storable returns s as valid UTF-8 without NUL, not shortened.
func storable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
