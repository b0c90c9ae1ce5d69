package storecore_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	got, err := storecore.NewToken(modelgate.Token{Org: "acme", Prefix: "mg_1", CreatedAt: at}, []byte{1})
	if err != nil || !got.CreatedAt.Equal(storecore.Micro(at)) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("NewToken with a time = %+v, %v; want CreatedAt %v", got, err, storecore.Micro(at))
	}
	before := storecore.Now()
	got, err = storecore.NewToken(modelgate.Token{Org: "acme", Prefix: "mg_1"}, []byte{1})
	if err != nil || got.CreatedAt.Before(before) || got.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("NewToken without a time = %+v, %v; want CreatedAt now", got, err)
	}
	for _, tt := range []struct {
		tok  modelgate.Token
		hash []byte
	}{
		{modelgate.Token{Prefix: "mg_1"}, []byte{1}},
		{modelgate.Token{Org: "acme"}, []byte{1}},
		{modelgate.Token{Org: "acme", Prefix: "mg_1"}, nil},
	} {
		if _, err := storecore.NewToken(tt.tok, tt.hash); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("NewToken(%+v, %v) = %v, want INVALID_ARGUMENT", tt.tok, tt.hash, err)
		}
	}
}

func TestNewAuditEntry(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	got, err := storecore.NewAuditEntry(modelgate.AuditEntry{Org: "acme", WorkspaceID: strings.ToUpper(id), At: at, Code: "C"})
	want := modelgate.AuditEntry{Org: "acme", WorkspaceID: id, At: storecore.Micro(at), Code: "C"}
	if err != nil {
		t.Fatalf("NewAuditEntry: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewAuditEntry (-want +got):\n%s", diff)
	}
	before := storecore.Now()
	got, err = storecore.NewAuditEntry(modelgate.AuditEntry{Org: "acme"})
	if err != nil || got.At.Before(before) || got.WorkspaceID != "" {
		t.Errorf("NewAuditEntry without time or workspace = %+v, %v; want At now", got, err)
	}
	for _, e := range []modelgate.AuditEntry{{}, {Org: "acme", WorkspaceID: "w-1"}} {
		if _, err := storecore.NewAuditEntry(e); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("NewAuditEntry(%+v) = %v, want INVALID_ARGUMENT", e, err)
		}
	}
}

func TestNullText_StoresAnEmptyStringAsNULL(t *testing.T) {
	t.Parallel()
	if got := storecore.NullText(""); got != nil {
		t.Errorf(`NullText("") = %v, want nil`, got)
	}
	if got := storecore.NullText("k"); got != "k" {
		t.Errorf(`NullText("k") = %v, want "k"`, got)
	}
}

func TestLoadMigrations_InVersionOrder(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"migrations/0002_more.sql": {Data: []byte("CREATE TABLE b ();")},
		"migrations/0001_init.sql": {Data: []byte("CREATE TABLE a ();")},
	}
	got, err := storecore.LoadMigrations(fsys, "migrations")
	if err != nil {
		t.Fatalf("LoadMigrations: %v", err)
	}
	want := []storecore.Migration{
		{Version: 1, Name: "0001_init.sql", SQL: "CREATE TABLE a ();"},
		{Version: 2, Name: "0002_more.sql", SQL: "CREATE TABLE b ();"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadMigrations (-want +got):\n%s", diff)
	}
}

func TestLoadMigrations_RefusesMisnamedFilesAndGaps(t *testing.T) {
	t.Parallel()
	for name, files := range map[string][]string{
		"no number":       {"init.sql"},
		"not a number":    {"one_init.sql"},
		"not sql":         {"0001_init.txt"},
		"gap":             {"0001_init.sql", "0003_more.sql"},
		"starts at two":   {"0002_init.sql"},
		"version twice":   {"0001_init.sql", "01_again.sql"},
		"missing the dir": nil,
	} {
		fsys := fstest.MapFS{}
		for _, f := range files {
			fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		if ms, err := storecore.LoadMigrations(fsys, "migrations"); err == nil {
			t.Errorf("%s: LoadMigrations = %v, want an error", name, ms)
		}
	}
}
