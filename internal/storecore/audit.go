package storecore

import (
	"time"

	"github.com/modelgate/modelgate"
)

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

// NewCredentialCheck validates c and returns the check
// AppendCredentialCheck inserts: c with WorkspaceID in canonical form, At
// rounded to microseconds (now if zero) and Latency rounded to
// microseconds. It returns EInvalidArgument for a check without org,
// provider or name, with an unknown verdict or scope, or with a
// WorkspaceID that is not a UUID.
func NewCredentialCheck(c modelgate.CredentialCheck) (modelgate.CredentialCheck, error) {
	if err := CheckOrg(c.Org); err != nil {
		return modelgate.CredentialCheck{}, err
	}
	if c.Provider == "" || c.Name == "" {
		return modelgate.CredentialCheck{}, modelgate.Errorf(modelgate.EInvalidArgument, "credential check without provider or name")
	}
	switch c.Verdict {
	case modelgate.VerdictValid, modelgate.VerdictRejected, modelgate.VerdictUnchecked:
	default:
		return modelgate.CredentialCheck{}, modelgate.Errorf(modelgate.EInvalidArgument, "credential check verdict %q is not valid, rejected or unchecked", c.Verdict)
	}
	switch c.Scope {
	case modelgate.ScopeOrg, modelgate.ScopeWorkspace:
	default:
		return modelgate.CredentialCheck{}, modelgate.Errorf(modelgate.EInvalidArgument, "credential check scope %q is not org or workspace", c.Scope)
	}
	if c.WorkspaceID != "" {
		id, ok := ParseID(c.WorkspaceID)
		if !ok {
			return modelgate.CredentialCheck{}, modelgate.Errorf(modelgate.EInvalidArgument, "credential check workspace id %q is not a UUID", c.WorkspaceID)
		}
		c.WorkspaceID = id
	}
	c.At = Micro(c.At)
	if c.At.IsZero() {
		c.At = Now()
	}
	c.Latency = c.Latency.Round(time.Microsecond)
	return c, nil
}
