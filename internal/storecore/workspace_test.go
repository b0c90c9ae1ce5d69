package storecore_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

func TestParseID_AcceptsUUIDsInCanonicalFormOnly(t *testing.T) {
	t.Parallel()
	const canonical = "0190a5a4-7c3e-7b8a-9f1d-3c2b1a098765"
	tests := []struct {
		id     string
		want   string
		wantOK bool
	}{
		{canonical, canonical, true},
		{strings.ToUpper(canonical), canonical, true},
		{"{" + canonical + "}", canonical, true},
		{"urn:uuid:" + canonical, canonical, true},
		{strings.ReplaceAll(canonical, "-", ""), canonical, true},
		{"", "", false},
		{"not-a-uuid", "", false},
		{canonical[:35], "", false},
		{canonical + "0", "", false},
		{"'; DROP TABLE workspaces;--", "", false},
	}
	for _, tt := range tests {
		got, ok := storecore.ParseID(tt.id)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseID(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestMicro_RoundsToMicrosecondsInUTC(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	got := storecore.Micro(at)
	want := time.Date(2026, 1, 2, 2, 4, 5, 123457000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Micro(%v) = %v, want %v", at, got, want)
	}
	if n := storecore.Now(); n.Nanosecond()%1000 != 0 || n.Location() != time.UTC {
		t.Errorf("Now() = %v, want UTC in whole microseconds", n)
	}
}

func TestCursor_RoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		// Any time that RFC 3339 can write: years 0000..9999, in a zone
		// whose offset is whole minutes.
		sec := rapid.Int64Range(time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9998, 12, 31, 0, 0, 0, 0, time.UTC).Unix()).Draw(t, "sec")
		nsec := rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")
		offset := rapid.IntRange(-14*60, 14*60).Draw(t, "offset minutes")
		at := time.Unix(sec, nsec).In(time.FixedZone("", offset*60))
		id := uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "id")).String()

		s := storecore.EncodeCursor(storecore.Cursor{CreatedAt: at, ID: strings.ToUpper(id)})
		got, err := storecore.DecodeCursor(s)
		if err != nil {
			t.Fatalf("DecodeCursor(EncodeCursor(%v, %s)): %v", at, id, err)
		}
		want := &storecore.Cursor{CreatedAt: storecore.Micro(at), ID: id}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("cursor after a round trip (-want +got):\n%s", diff)
		}
		// A decoded cursor encodes to itself once its time is rounded.
		if again := storecore.EncodeCursor(*got); again != storecore.EncodeCursor(*want) {
			t.Fatalf("re-encoded cursor %q, want %q", again, storecore.EncodeCursor(*want))
		}
	})
}

func TestDecodeCursor_EmptyIsTheFirstPage(t *testing.T) {
	t.Parallel()
	c, err := storecore.DecodeCursor("")
	if c != nil || err != nil {
		t.Errorf(`DecodeCursor("") = %v, %v; want nil, nil`, c, err)
	}
}

func TestDecodeCursor_RefusesWhatEncodeCursorDidNotProduce(t *testing.T) {
	t.Parallel()
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	id := uuid.NewString()
	for name, s := range map[string]string{
		"not base64":        "%%% not base64",
		"padded base64":     base64.URLEncoding.EncodeToString([]byte("2026-01-02T03:04:05.1Z " + id)),
		"standard base64":   base64.StdEncoding.EncodeToString([]byte("2026-01-02T03:04:05Z " + id + "??>")),
		"no separator":      enc("2026-01-02T03:04:05Z"),
		"no time":           enc("yesterday " + id),
		"time without zone": enc("2026-01-02T03:04:05 " + id),
		"no UUID":           enc("2026-01-02T03:04:05Z not-a-uuid"),
		"trailing field":    enc("2026-01-02T03:04:05Z " + id + " more"),
		"SQL":               enc("'); DROP TABLE workspaces;--"),
	} {
		c, err := storecore.DecodeCursor(s)
		if modelgate.ErrorCode(err) != modelgate.EInvalidArgument || c != nil {
			t.Errorf("%s: DecodeCursor(%q) = %v, %v; want INVALID_ARGUMENT", name, s, c, err)
		}
	}
}

func TestCheckFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    modelgate.WorkspaceFilter
		want string // error code, "" for nil
	}{
		{modelgate.WorkspaceFilter{Limit: 1}, ""},
		{modelgate.WorkspaceFilter{Limit: 200}, ""},
		{modelgate.WorkspaceFilter{Limit: 0}, modelgate.EInvalidArgument},
		{modelgate.WorkspaceFilter{Limit: -1}, modelgate.EInvalidArgument},
		{modelgate.WorkspaceFilter{Limit: 201}, modelgate.EInvalidArgument},
		{modelgate.WorkspaceFilter{Limit: 10, Status: modelgate.StatusProvisioning}, ""},
		{modelgate.WorkspaceFilter{Limit: 10, Status: modelgate.StatusOnline}, ""},
		{modelgate.WorkspaceFilter{Limit: 10, Status: modelgate.StatusFailed}, ""},
		{modelgate.WorkspaceFilter{Limit: 10, Status: modelgate.StatusRemoved}, ""},
		{modelgate.WorkspaceFilter{Limit: 10, Status: "ONLINE"}, modelgate.EInvalidArgument},
		{modelgate.WorkspaceFilter{Limit: 10, Status: "deleted"}, modelgate.EInvalidArgument},
		// The cursor is DecodeCursor's to judge.
		{modelgate.WorkspaceFilter{Limit: 10, Cursor: "garbage"}, ""},
	}
	for _, tt := range tests {
		if got := modelgate.ErrorCode(storecore.CheckFilter(tt.f)); got != tt.want {
			t.Errorf("CheckFilter(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestNewWorkspace_RefusesAnInvalidWorkspace(t *testing.T) {
	t.Parallel()
	valid := func() modelgate.NewWorkspace {
		return modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w", Tier: 1}}
	}
	sealed := modelgate.Sealed{KeyID: "k1", Ciphertext: []byte{1}}
	tests := []struct {
		name   string
		change func(*modelgate.NewWorkspace)
		want   string
	}{
		{"no org", func(nw *modelgate.NewWorkspace) { nw.Workspace.Org = "" }, modelgate.EInvalidArgument},
		{"no name", func(nw *modelgate.NewWorkspace) { nw.Workspace.Name = "" }, modelgate.EInvalidArgument},
		{"tier 0", func(nw *modelgate.NewWorkspace) { nw.Workspace.Tier = 0 }, modelgate.EInvalidArgument},
		{"tier 5", func(nw *modelgate.NewWorkspace) { nw.Workspace.Tier = 5 }, modelgate.EInvalidArgument},
		{"id not a UUID", func(nw *modelgate.NewWorkspace) { nw.Workspace.ID = "w-1" }, modelgate.EInvalidArgument},
		{"parent not a UUID", func(nw *modelgate.NewWorkspace) { nw.Workspace.ParentID = "w-1" }, modelgate.ENotFound},
		{"unnamed secret", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Sealed: sealed}}
		}, modelgate.EInvalidArgument},
		{"secret given twice", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Name: "A", Sealed: sealed}, {Name: "A", Sealed: sealed}}
		}, modelgate.EInvalidArgument},
		{"secret without key id", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Name: "A", Sealed: modelgate.Sealed{Ciphertext: []byte{1}}}}
		}, modelgate.EInvalidArgument},
		{"secret without ciphertext", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Name: "A", Sealed: modelgate.Sealed{KeyID: "k1"}}}
		}, modelgate.EInvalidArgument},
	}
	for _, tt := range tests {
		nw := valid()
		tt.change(&nw)
		w, err := storecore.NewWorkspace(nw, storecore.Now())
		if got := modelgate.ErrorCode(err); got != tt.want || w != nil {
			t.Errorf("%s: NewWorkspace = %v, %v; want %s", tt.name, w, err, tt.want)
		}
	}
}

func TestNewWorkspace_ReturnsAFreshProvisioningRow(t *testing.T) {
	t.Parallel()
	at := storecore.Now()
	id, parent := uuid.NewString(), uuid.NewString()
	nw := modelgate.NewWorkspace{Workspace: modelgate.Workspace{
		Org: "acme", ID: strings.ToUpper(id), Name: "w", Tier: 2, Model: "m", ParentID: strings.ToUpper(parent),
		IdempotencyKey: "k",
		// What the store owns is reset, whatever the caller says.
		Status: modelgate.StatusOnline, StatusCode: "X", StatusMessage: "x", Attempts: 3,
		CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(time.Hour),
	}}
	w, err := storecore.NewWorkspace(nw, at)
	if err != nil {
		t.Fatalf("NewWorkspace: %v", err)
	}
	want := &modelgate.Workspace{
		Org: "acme", ID: id, Name: "w", Tier: 2, Model: "m", ParentID: parent, IdempotencyKey: "k",
		Status: modelgate.StatusProvisioning, CreatedAt: at, UpdatedAt: at,
	}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Errorf("NewWorkspace (-want +got):\n%s", diff)
	}
	if nw.Workspace.Status != modelgate.StatusOnline {
		t.Error("NewWorkspace changed its argument")
	}
}

func TestNewWorkspace_GivesAnIDWhenNoneIsChosen(t *testing.T) {
	t.Parallel()
	nw := modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w", Tier: 1}}
	a, errA := storecore.NewWorkspace(nw, storecore.Now())
	b, errB := storecore.NewWorkspace(nw, storecore.Now())
	if errA != nil || errB != nil {
		t.Fatalf("NewWorkspace: %v, %v", errA, errB)
	}
	if id, ok := storecore.ParseID(a.ID); !ok || id != a.ID {
		t.Errorf("generated id %q is not a canonical UUID", a.ID)
	}
	if a.ID == b.ID {
		t.Errorf("two workspaces got the same id %s", a.ID)
	}
}

func TestSortOldestFirst_OrdersByCreationThenID(t *testing.T) {
	t.Parallel()
	t0 := storecore.Now()
	ws := []*modelgate.Workspace{
		{ID: "c", CreatedAt: t0},
		{ID: "a", CreatedAt: t0.Add(time.Microsecond)},
		{ID: "b", CreatedAt: t0},
		{ID: "a", CreatedAt: t0.Add(-time.Microsecond)},
	}
	storecore.SortOldestFirst(ws)
	var got []string
	for _, w := range ws {
		got = append(got, w.CreatedAt.Sub(t0).String()+" "+w.ID)
	}
	want := []string{"-1µs a", "0s b", "0s c", "1µs a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestCodedErrors_HaveTheirCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{storecore.WorkspaceNotFound("w"), modelgate.ENotFound},
		{storecore.ParentNotFound("w"), modelgate.ENotFound},
		{storecore.NotLeased("w", "p1"), modelgate.ENotFound},
		{storecore.TokenNotFound("mg_x"), modelgate.ENotFound},
		{storecore.NameConflict("w"), modelgate.ENameConflict},
		{storecore.TokenPrefixTaken("mg_x"), modelgate.ENameConflict},
		{storecore.IDTaken("w"), modelgate.EInvalidArgument},
		{storecore.CheckOrg(""), modelgate.EInvalidArgument},
		{storecore.CheckOrg("acme"), ""},
	} {
		if got := modelgate.ErrorCode(tt.err); got != tt.want {
			t.Errorf("%v: code %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestPage_CutsTheExtraRowAndPointsAfterTheLastKept(t *testing.T) {
	t.Parallel()
	t0 := storecore.Now()
	ws := make([]*modelgate.Workspace, 4)
	for i := range ws {
		ws[i] = &modelgate.Workspace{ID: uuid.NewString(), CreatedAt: t0.Add(time.Duration(i) * time.Microsecond)}
	}
	page, next := storecore.Page(ws, 3)
	if diff := cmp.Diff(ws[:3], page); diff != "" {
		t.Errorf("page of 3 from 4 rows (-want +got):\n%s", diff)
	}
	c, err := storecore.DecodeCursor(next)
	if err != nil || !c.CreatedAt.Equal(ws[2].CreatedAt) || c.ID != ws[2].ID {
		t.Errorf("cursor %q decodes to %v, %v; want the third row's position", next, c, err)
	}
	for _, limit := range []int{4, 5} {
		page, next := storecore.Page(ws, limit)
		if len(page) != 4 || next != "" {
			t.Errorf("Page(4 rows, %d) = %d rows, cursor %q; want all rows, no cursor", limit, len(page), next)
		}
	}
}
