package storecore

import (
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

// NewWorkspace validates nw and returns the row CreateWorkspace inserts: a
// provisioning workspace with no attempts, created and updated at at, with
// its ID and ParentID in canonical form. A workspace without an ID gets a
// new random one. It returns EInvalidArgument for a workspace without org
// or name, a tier outside 1..4, an ID that is not a UUID or a malformed
// secret (see CheckSecrets), and ENotFound for a ParentID that is not a
// UUID or is the workspace's own ID.
func NewWorkspace(nw modelgate.NewWorkspace, at time.Time) (*modelgate.Workspace, error) {
	w := nw.Workspace
	switch {
	case w.Org == "":
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "org is required")
	case w.Name == "":
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "name is required")
	case w.Tier < 1 || w.Tier > 4:
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "tier must be 1..4, not %d", w.Tier)
	}
	if err := CheckSecrets(nw.Secrets); err != nil {
		return nil, err
	}
	if w.ParentID != "" {
		parent, ok := ParseID(w.ParentID)
		if !ok {
			return nil, ParentNotFound(w.ParentID)
		}
		w.ParentID = parent
	}
	// The provision service chooses the id before the insert, because the
	// workspace secrets are sealed to it; generate one only if none is given.
	if w.ID == "" {
		w.ID = uuid.NewString()
	} else if id, ok := ParseID(w.ID); ok {
		w.ID = id
	} else {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "workspace id %q is not a UUID", w.ID)
	}
	// The parent must exist before the workspace. PostgreSQL's foreign key,
	// checked at the end of the inserting statement, would accept the row
	// as its own parent.
	if w.ParentID != "" && w.ParentID == w.ID {
		return nil, ParentNotFound(nw.Workspace.ParentID)
	}
	w.Status, w.StatusCode, w.StatusMessage = modelgate.StatusProvisioning, "", ""
	w.Attempts = 0
	w.CreatedAt, w.UpdatedAt = at, at
	return &w, nil
}

// CheckFilter returns nil, or EInvalidArgument for a limit outside 1..200 or
// a status that is not one of the statuses. It does not look at the cursor
// (see DecodeCursor).
func CheckFilter(f modelgate.WorkspaceFilter) error {
	if f.Limit < 1 || f.Limit > 200 {
		return modelgate.Errorf(modelgate.EInvalidArgument, "limit must be 1..200, not %d", f.Limit)
	}
	switch f.Status {
	case "", modelgate.StatusProvisioning, modelgate.StatusOnline, modelgate.StatusFailed, modelgate.StatusRemoved:
		return nil
	}
	return modelgate.Errorf(modelgate.EInvalidArgument, "unknown status %q", f.Status)
}

// Cursor is the position after the last row of a page of workspaces, which
// are ordered by (CreatedAt, ID).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// EncodeCursor returns c as URL-safe base64 of "created_at id". Both stores
// encode with it, so a cursor means the same in both.
func EncodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.Format(time.RFC3339Nano) + " " + c.ID))
}

// DecodeCursor returns the cursor that EncodeCursor encoded as s, with its
// time rounded to microseconds and its ID in canonical form, or nil for ""
// (the first page). It returns EInvalidArgument for anything that
// EncodeCursor did not produce.
func DecodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := modelgate.Errorf(modelgate.EInvalidArgument, "malformed cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(b), " ")
	if !ok {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, bad
	}
	uid, ok := ParseID(id)
	if !ok {
		return nil, bad
	}
	return &Cursor{CreatedAt: Micro(t), ID: uid}, nil
}

// Page returns the first limit workspaces of ws and the cursor of the next
// page, or ws and "" when it is the last page. ws is a query's result in
// (CreatedAt, ID) order with LIMIT limit+1: the extra row, never returned,
// says whether there is a next page without a count.
func Page(ws []*modelgate.Workspace, limit int) ([]*modelgate.Workspace, string) {
	if len(ws) <= limit {
		return ws, ""
	}
	ws = ws[:limit]
	last := ws[len(ws)-1]
	return ws, EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
}

// SortOldestFirst sorts ws by (CreatedAt, ID), the order of the provisioning
// queue. The stores need it after UPDATE … RETURNING, which promises no
// order.
func SortOldestFirst(ws []*modelgate.Workspace) {
	slices.SortFunc(ws, func(a, b *modelgate.Workspace) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// WorkspaceNotFound returns the ENotFound error for a workspace id that
// names no workspace of the org.
func WorkspaceNotFound(id string) error {
	return modelgate.Errorf(modelgate.ENotFound, "workspace %s not found", id)
}

// ParentNotFound returns the ENotFound error for a ParentID that names no
// workspace of the org.
func ParentNotFound(id string) error {
	return modelgate.Errorf(modelgate.ENotFound, "parent workspace %s not found", id)
}

// NameConflict returns the ENameConflict error for a name that a live
// workspace of the org already has.
func NameConflict(name string) error {
	return modelgate.Errorf(modelgate.ENameConflict, "a workspace named %q already exists", name)
}

// IDTaken returns the EInvalidArgument error for a caller-chosen workspace
// id that is already used.
func IDTaken(id string) error {
	return modelgate.Errorf(modelgate.EInvalidArgument, "workspace id %s is already taken", id)
}

// NotLeased returns the ENotFound error for a workspace that is not
// provisioning under a lease of owner.
func NotLeased(id, owner string) error {
	return modelgate.Errorf(modelgate.ENotFound, "workspace %s is not provisioning under a lease of %s", id, owner)
}
