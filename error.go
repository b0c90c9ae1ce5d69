package modelgate

import (
	"errors"
	"fmt"
)

// Error codes of the public contract (CONTRACT.md §4). A coded error is shown
// to the user as is; any other error is logged and shown as INTERNAL.
const (
	EInvalidArgument       = "INVALID_ARGUMENT"
	ERuntimeUnsupported    = "RUNTIME_UNSUPPORTED"
	EModelRequired         = "MODEL_REQUIRED"
	EUnregisteredModel     = "UNREGISTERED_MODEL_FOR_RUNTIME"
	EProviderNotInRegistry = "DERIVED_PROVIDER_NOT_IN_REGISTRY"
	EMissingCredential     = "MISSING_BYOK_CREDENTIAL"
	// EInvalidCredential: the provider rejected the key when it was checked
	// (CONTRACT.md §8). Details: provider, name, provider_status.
	EInvalidCredential    = "INVALID_CREDENTIAL"
	ENameConflict         = "NAME_CONFLICT"
	ENotFound             = "NOT_FOUND"
	EConfirmationRequired = "CONFIRMATION_REQUIRED"
	EWorkspaceLimit       = "WORKSPACE_LIMIT_REACHED"
	EUnauthorized         = "UNAUTHORIZED"
	// EForbidden: the caller is known (or need not be) but may not do this:
	// a read-only token calling a write tool, a request whose Host or
	// Origin fails the DNS-rebinding check.
	EForbidden   = "FORBIDDEN"
	ERateLimited = "RATE_LIMITED"
	EInternal    = "INTERNAL"
)

// Status codes of a failed workspace (CONTRACT.md §6), besides
// EMissingCredential, which the provisioner's preflight sets.
const (
	// EDriverFailed: every driver attempt failed; the status message holds
	// what the driver said, with secret values redacted.
	EDriverFailed = "DRIVER_FAILED"
	// EProvisionTimeout: the workspace was still provisioning after the
	// provision timeout.
	EProvisionTimeout = "PROVISION_TIMEOUT"
)

// Error is a coded, user-safe error. Message and Details are shown to the
// caller, so they must never hold a secret value or internal detail.
type Error struct {
	Code    string
	Message string
	// Details are extra fields of the error object (for example
	// "suggestions"); keys must not collide with "code" or "error".
	Details map[string]any
	// Cause, if set, is a sentinel that callers test with errors.Is to
	// tell apart refusals that share a code (registry.ErrAmbiguous). It is
	// never shown to the caller.
	Cause error
}

// Unwrap returns Cause, so errors.Is and errors.As see it.
func (e *Error) Unwrap() error { return e.Cause }

// Error returns the code and the message.
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// Errorf returns a coded error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetail returns e with one more detail field set; it returns e for chaining.
func (e *Error) WithDetail(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EInternal otherwise. It returns "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err: the message of a coded
// error, or a fixed text for anything else (whose detail goes to the log).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; the details were logged"
}
