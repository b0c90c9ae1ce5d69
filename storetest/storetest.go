// Package storetest is the test suite that every modelgate.Store passes: the
// method comments of store.go, written as tests. The postgres and sqlite
// packages run it from their tests, so the two stores behave the same, down
// to the bytes they return.
//
// Each test names the rule it checks, runs in parallel with the others, and
// gets a new, empty store of its own. Stores that can count their rows
// (Counts) let the suite prove that refused calls write nothing; stores that
// can wake provisioners (ListenProvision) let it prove that a new workspace
// wakes them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

// Counter is implemented by stores that can count their rows; the suite
// uses it to prove that refused calls write nothing.
type Counter interface {
	// Counts returns the number of rows of every table, keyed by table name.
	Counts(ctx context.Context) (map[string]int64, error)
}

// Listener is implemented by stores that wake provisioners when a
// workspace is created.
type Listener interface {
	// ListenProvision calls wake once when it starts listening and after
	// each created workspace, until ctx ends.
	ListenProvision(ctx context.Context, wake func()) error
}

// Run runs the suite against the stores open returns. open must return a
// new, empty store for the test t and close it when t ends (t.Cleanup); it
// is called once per test, from parallel tests.
func Run(t *testing.T, open func(t *testing.T) modelgate.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s modelgate.Store)
	}{
		{"Ping_Succeeds", testPing},
		{"CreateWorkspace_RoundTripsEveryFieldExactly", testRoundTrip},
		{"CreateWorkspace_StoreChoosesIDStatusAndTimes", testStoreChooses},
		{"CreateWorkspace_CallerChosenIDMustBeFree", testIDTaken},
		{"CreateWorkspace_RejectsInvalidWorkspaceAndWritesNothing", testCreateInvalid},
		{"CreateWorkspace_NameIsUniqueAmongLiveWorkspacesOfOrg", testNameUnique},
		{"CreateWorkspace_IdempotencyKeyReturnsFirstWorkspace", testIdempotencyKey},
		{"CreateWorkspace_ConcurrentSameNameCreatesExactlyOne", testConcurrentSameName},
		{"CreateWorkspace_ConcurrentSameKeyCreatesExactlyOne", testConcurrentSameKey},
		{"CreateWorkspace_ParentMustBeWorkspaceOfSameOrg", testParent},
		{"CreateWorkspace_WakesListeners", testListen},
		{"StatusChanges_WakeStatusListeners", testListenStatus},
		{"GetWorkspace_UnknownOrMalformedIDIsNotFound", testNotFound},
		{"Orgs_AreIsolated", testOrgIsolation},
		{"ListWorkspaces_PagesWithoutGapsOrDuplicates", testPagination},
		{"ListWorkspaces_RejectsBadFilter", testBadFilter},
		{"DeprovisionWorkspace_NeedsNameAndIsIdempotent", testDeprovision},
		{"WorkspaceSecrets_AreStoredWithWorkspace", testWorkspaceSecrets},
		{"OrgSecrets_SetReplaceListDelete", testOrgSecrets},
		{"RotateSecrets_ResealsEveryStaleSecretOnce", testRotate},
		{"RotateSecrets_StopsAtResealError", testRotateError},
		{"Tokens_CreateLookupTouchListRevoke", testTokens},
		{"Tokens_RevocationReachesListenersBeforeRevokeReturns", testRevocationFeed},
		{"OrgSecrets_ChangesReachListenersBeforeTheWriteReturns", testOrgSecretFeed},
		{"ClaimWorkspaces_ConcurrentClaimersNeverShareARow", testClaimConcurrent},
		{"ClaimWorkspaces_OldestProvisioningFirst", testClaimOrder},
		{"ClaimWorkspaces_ExpiredLeaseIsReclaimable", testExpiredLease},
		{"FinishWorkspace_OnlyLeaseOwnerFinishes", testFinish},
		{"FinishWorkspace_StoresTheProviderBillingAndScopeItStartedWith", testFinishRecordsDecision},
		{"HoldWorkspace_OnlyLeaseOwnerSetsTheMessageAndItStaysProvisioning", testHold},
		{"SecretKeyIDs_AreTheDistinctKeysOfEveryStoredSecret", testSecretKeyIDs},
		{"ExpireProvisioning_FailsOnlyOldProvisioning", testExpire},
		{"CountProvisioning_CountsEveryOrgsBacklogClaimedOrNot", testCountProvisioning},
		{"Audit_AppendAndListBySinceAndOrg", testAudit},
		{"Audit_CreateWorkspaceAppendsItsDecisionOnlyWhenItCreates", testCreateAudit},
		{"FindWorkspace_ByKeyOrLiveNameWithinTheOrg", testFindWorkspace},
		{"CreateWorkspace_RefusedAtTheOrgsLimitOfLiveWorkspaces", testWorkspaceLimit},
		{"CreateWorkspace_ConcurrentCreatesNeverPassTheLimit", testConcurrentWorkspaceLimit},
		{"SetOrgSecret_RefusedAtTheLimitButReplacingIsAllowed", testOrgSecretLimit},
		{"SetOrgSecret_ConcurrentSetsNeverPassTheLimit", testConcurrentOrgSecretLimit},
		{"ListOrgSecrets_PagesByNameWithoutGapsOrDuplicates", testOrgSecretPagination},
		{"Secrets_CarryTheVerdictOfTheirLastCheck", testSecretVerdicts},
		{"CredentialChecks_AppendAndListBySinceAndOrg", testCredentialChecks},
		{"KeyLinks_CreateLookupSpendOnceRelease", testKeyLinks},
		{"KeyLinks_ConcurrentSpendsSpendOnce", testKeyLinkConcurrentSpend},
		{"KeyLinks_CreateDeletesABatchOfLinksDeadLongerThanTheRetention", testKeyLinkSweep},
		{"KeyLinks_ConcurrentCreatesSweepTheDeadAndKeepEveryLiveLink", testKeyLinkConcurrentSweep},
		{"KeyLinks_CreateAtTheOrgsCapRetiresItsOldestUnusedLiveLink", testKeyLinkRetire},
		{"KeyLinks_ConcurrentCreatesAtTheCapAllSucceedAndLeaveMaxLive", testKeyLinkConcurrentRetire},
		{"KeyLinks_SpendRacingARetirementEndsSpentOrExpiredNeverBoth", testKeyLinkSpendRacesRetirement},
		{"Audit_KeyLinkEventsRoundTrip", testAuditKeyLinkFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, open(t))
		})
	}
}

func testPing(t *testing.T, s modelgate.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// newWorkspace returns a complete, valid workspace to create.
func newWorkspace(org, name string) modelgate.NewWorkspace {
	return modelgate.NewWorkspace{Workspace: modelgate.Workspace{
		Org:             org,
		Name:            name,
		Role:            "reviews pull requests",
		Tier:            3,
		Runtime:         "claude-code",
		Model:           "claude-sonnet-4-6",
		Provider:        "anthropic-api",
		PlatformBilled:  false,
		CredentialScope: modelgate.ScopeOrg,
	}}
}

// create creates nw and fails the test unless a new workspace was created.
func create(t *testing.T, s modelgate.Store, nw modelgate.NewWorkspace) *modelgate.Workspace {
	t.Helper()
	w, created, err := s.CreateWorkspace(t.Context(), nw)
	if err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", nw.Workspace.Name, err)
	}
	if !created {
		t.Fatalf("CreateWorkspace(%q): created = false, want true", nw.Workspace.Name)
	}
	return w
}

func get(t *testing.T, s modelgate.Store, org, id string) *modelgate.Workspace {
	t.Helper()
	w, err := s.GetWorkspace(t.Context(), org, id)
	if err != nil {
		t.Fatalf("GetWorkspace(%s, %s): %v", org, id, err)
	}
	return w
}

// listAll returns every workspace of org with the status filter, page by page.
func listAll(t *testing.T, s modelgate.Store, org, status string, limit int) []*modelgate.Workspace {
	t.Helper()
	var all []*modelgate.Workspace
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("ListWorkspaces: more than 1000 pages; the cursor does not advance")
		}
		ws, next, err := s.ListWorkspaces(t.Context(), org, modelgate.WorkspaceFilter{Status: status, Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListWorkspaces(%s, page %d): %v", org, page, err)
		}
		if len(ws) > limit {
			t.Fatalf("ListWorkspaces: page of %d, limit %d", len(ws), limit)
		}
		all = append(all, ws...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// wantCode fails the test unless err is a coded error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := modelgate.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %s", err, got, code)
	}
}

// writesNothing runs f and, if s can count its rows, fails the test when f
// changed the number of rows of any table.
func writesNothing(t *testing.T, s modelgate.Store, f func()) {
	t.Helper()
	c, ok := s.(Counter)
	if !ok {
		f()
		return
	}
	before, err := c.Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	f()
	after, err := c.Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the call wrote rows (-before +after):\n%s", diff)
	}
}

// diffJSON fails the test unless got and want marshal to the same JSON:
// byte-exact strings, and times in the same zone to the same digit.
func diffJSON(t *testing.T, what string, want, got any) {
	t.Helper()
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(wb) != string(gb) {
		t.Errorf("%s: JSON differs\n got: %s\nwant: %s", what, gb, wb)
	}
}

// wantStoredTime fails the test unless tm is as the stores write times: UTC,
// whole microseconds.
func wantStoredTime(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Errorf("%s = %v: location %v, want UTC", what, tm, tm.Location())
	}
	if tm.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v: not whole microseconds", what, tm)
	}
}

// tick returns once the clock is more than a microsecond past tm, so that
// anything the store stamps afterwards is strictly later than tm (stores
// keep microseconds). It spins rather than sleeps: the wait is a
// microsecond or two.
func tick(tm time.Time) {
	for !time.Now().After(tm.Add(time.Microsecond)) {
		runtime.Gosched()
	}
}

// sortOldestFirst sorts by (created_at, id), the order of lists and claims.
func sortOldestFirst(ws []*modelgate.Workspace) {
	sort.Slice(ws, func(i, j int) bool {
		if !ws[i].CreatedAt.Equal(ws[j].CreatedAt) {
			return ws[i].CreatedAt.Before(ws[j].CreatedAt)
		}
		return ws[i].ID < ws[j].ID
	})
}

func ids(ws []*modelgate.Workspace) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

// sealed returns a sealed value; the bytes include NUL and 0xff so that a
// store that treats them as text is caught.
func sealed(keyID, value string) modelgate.Sealed {
	return modelgate.Sealed{KeyID: keyID, Ciphertext: append([]byte{0, 0xff, 'n'}, value...)}
}

// waitFor receives from ch or fails the test after a generous deadline.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// errorsContain reports whether the text of err contains any of subs.
func errorsContain(err error, subs ...string) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		for _, s := range subs {
			if strings.Contains(err.Error(), s) {
				return true
			}
		}
	}
	return false
}

// isUUID reports whether id is a UUID in canonical (lower-case) form.
func isUUID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
