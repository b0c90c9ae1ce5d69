package storecore

import "github.com/modelgate/modelgate"

// NewAuditEntry validates e and returns the entry AppendAudit inserts: e
// with WorkspaceID in canonical form and At rounded to microseconds, or now
// if it is zero. It returns EInvalidArgument for an entry without org or
// with a WorkspaceID that is not a UUID.
func NewAuditEntry(e modelgate.AuditEntry) (modelgate.AuditEntry, error) {
	if err := CheckOrg(e.Org); err != nil {
		return modelgate.AuditEntry{}, err
	}
	if e.WorkspaceID != "" {
		id, ok := ParseID(e.WorkspaceID)
		if !ok {
			return modelgate.AuditEntry{}, modelgate.Errorf(modelgate.EInvalidArgument, "audit workspace id %q is not a UUID", e.WorkspaceID)
		}
		e.WorkspaceID = id
	}
	e.At = Micro(e.At)
	if e.At.IsZero() {
		e.At = Now()
	}
	return e, nil
}
