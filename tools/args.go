package tools

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/secrets"
)

// MaxStringArgBytes bounds any string argument before field-specific limits
// apply, so hostile input is refused cheaply. A secret value has the same
// bound, applied by the gate (gate.MaxSecretInputBytes) so that its refusal
// names the secret (secretValue).
const MaxStringArgBytes = 64 << 10

// args decodes tool arguments. The first problem is kept in err and every
// later read returns a zero value, so handlers read all fields and check once.
type args struct {
	meta *mcp.Meta
	m    map[string]any
	used map[string]bool
	err  error
}

func newArgs(req mcp.CallToolRequest) (*args, error) {
	raw := req.Params.Arguments
	m, ok := raw.(map[string]any)
	if raw != nil && !ok {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "arguments must be a JSON object")
	}
	return &args{meta: req.Params.Meta, m: m, used: map[string]bool{}}, nil
}

// progressToken returns the request's progress token, or nil when the
// client did not ask for progress.
func (a *args) progressToken() mcp.ProgressToken {
	if a.meta == nil {
		return nil
	}
	return a.meta.ProgressToken
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = modelgate.Errorf(modelgate.EInvalidArgument, format, v...)
	}
}

func (a *args) get(name string) (any, bool) {
	a.used[name] = true
	v, ok := a.m[name]
	if ok && v == nil {
		return nil, false // JSON null means "not given"
	}
	return v, ok
}

// str returns a string argument or "", refusing one longer than
// MaxStringArgBytes.
func (a *args) str(name string) string {
	s := a.unbounded(name)
	if len(s) > MaxStringArgBytes {
		a.fail("%s: at most %d bytes", name, MaxStringArgBytes)
		return ""
	}
	return s
}

// secretValue returns a string argument that is a secret value, or "".
// Unlike str it does not bound the length: the service refuses a value
// longer than gate.MaxSecretInputBytes (the same 64 KiB) unread, with a
// message that names the secret, and only after it has checked the
// secret's name (CONTRACT.md §2). The value is never in an error.
func (a *args) secretValue(name string) string { return a.unbounded(name) }

// unbounded returns a string argument of any length, or "".
func (a *args) unbounded(name string) string {
	v, ok := a.get(name)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		a.fail("%s: must be a string", name)
		return ""
	}
	return s
}

// integer returns an integer argument or def.
func (a *args) integer(name string, def int) int {
	v, ok := a.get(name)
	if !ok {
		return def
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<31 {
		a.fail("%s: must be an integer", name)
		return def
	}
	return int(f)
}

// boolean returns a boolean argument or false.
func (a *args) boolean(name string) bool {
	v, ok := a.get(name)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		a.fail("%s: must be true or false", name)
	}
	return b
}

// stringMap returns an object argument whose values are all strings.
func (a *args) stringMap(name string, maxEntries int) map[string]string {
	v, ok := a.get(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		a.fail("%s: must be an object of strings", name)
		return nil
	}
	if len(m) > maxEntries {
		a.fail("%s: at most %d entries, got %d", name, maxEntries, len(m))
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			// A key that is not a credential name may be a value pasted
			// where the name goes: it must not come back in the error.
			if secrets.ValidName(k) {
				a.fail("%s: value of %q must be a string", name, k)
			} else {
				a.fail("%s: every value must be a string", name)
			}
			return nil
		}
		out[k] = s
	}
	return out
}

// done refuses arguments the tool does not know, naming them, so a typo such
// as "modle" is caught instead of silently ignored.
func (a *args) done() error {
	if a.err != nil {
		return a.err
	}
	var unknown []string
	for k := range a.m {
		if !a.used[k] {
			unknown = append(unknown, argName(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return modelgate.Errorf(modelgate.EInvalidArgument, "unknown argument(s): %s", strings.Join(unknown, ", "))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// argName quotes an argument name for an error, unless it does not look
// like one: a value pasted where a name goes must not come back.
func argName(k string) string {
	if len(k) == 0 || len(k) > 64 {
		return "(a name that is not an argument name)"
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "(a name that is not an argument name)"
		}
	}
	return fmt.Sprintf("%q", k)
}
