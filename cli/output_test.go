package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// TestCLI_EveryListingCommandPrintsOneJSONDocument: secret list, token
// list, workspaces, audit and models take --json and print exactly one JSON
// object on stdout, its list never null (an empty list is []), with a store
// that holds rows and with an empty one.
func TestCLI_EveryListingCommandPrintsOneJSONDocument(t *testing.T) {
	t.Parallel()
	full := t.TempDir()
	provisionOnEmbeddedStore(t, full)
	if code, _, errOut := runIn(t, full, "sk-x\n", "secret", "set", "ANTHROPIC_API_KEY"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runIn(t, full, "", "token", "create", "--name", "ci"); code != 0 {
		t.Fatal(errOut)
	}
	for _, c := range []struct {
		args []string
		key  string // the list in the document
	}{
		{[]string{"secret", "list", "--json"}, "secrets"},
		{[]string{"token", "list", "--json"}, "tokens"},
		{[]string{"token", "list", "--all", "--json"}, "tokens"},
		{[]string{"workspaces", "--json"}, "workspaces"},
		{[]string{"audit", "--json"}, "audit"},
		{[]string{"models", "--json"}, "arms"},
	} {
		for store, dir := range map[string]string{"with rows": full, "empty": ""} {
			t.Run(strings.Join(c.args, " ")+"/"+store, func(t *testing.T) {
				t.Parallel()
				if dir == "" {
					dir = t.TempDir()
				}
				code, out, errOut := runIn(t, dir, "", c.args...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				dec := json.NewDecoder(strings.NewReader(out))
				var doc map[string]json.RawMessage
				if err := dec.Decode(&doc); err != nil {
					t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
				}
				if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
					t.Fatalf("stdout holds more than one JSON document:\n%s", out)
				}
				var list []json.RawMessage
				if err := json.Unmarshal(doc[c.key], &list); err != nil || list == nil {
					t.Fatalf("%q is %s, want a list", c.key, doc[c.key])
				}
				if store == "with rows" && len(list) == 0 {
					t.Fatalf("%q is empty on a store with rows:\n%s", c.key, out)
				}
			})
		}
	}
}

// TestNewLogger_PeopleGetWarnAndTextAtATerminalDaemonsGetJSONAtInfo: the
// people's commands log at warn by default, in zerolog's console format
// when stderr is a terminal; serve and provisioner log JSON at info, at a
// terminal too; --log-level overrides the level of both.
func TestNewLogger_PeopleGetWarnAndTextAtATerminalDaemonsGetJSONAtInfo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name             string
		level            string
		daemon, terminal bool
		wantInfo, json   bool
	}{
		{"people, pipe", "", false, false, false, true},
		{"people, terminal", "", false, true, false, false},
		{"people, terminal, --log-level info", "info", false, true, true, false},
		{"daemon, pipe", "", true, false, true, true},
		{"daemon, terminal", "", true, true, true, true},
		{"daemon, --log-level warn", "warn", true, false, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := newLogger(&Config{LogLevel: c.level}, &buf, c.daemon, c.terminal)
			if err != nil {
				t.Fatal(err)
			}
			log.Info().Msg("an info line")
			log.Warn().Msg("a warning")
			out := buf.String()
			if got := strings.Contains(out, "an info line"); got != c.wantInfo {
				t.Errorf("info logged: %v, want %v:\n%s", got, c.wantInfo, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, "a warning") {
				t.Fatalf("the warning is missing:\n%s", out)
			}
			if got := json.Valid([]byte(last)); got != c.json {
				t.Errorf("JSON: %v, want %v: %q", got, c.json, last)
			}
		})
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer is taken for a terminal")
	}
	// The master side of a new pseudo-terminal is a terminal (Linux).
	if ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err == nil {
		defer ptmx.Close()
		if !isTerminal(ptmx) {
			t.Error("a pseudo-terminal is not taken for a terminal")
		}
	}
}

// TestCLI_ServeLogsJSONAtInfoPeoplesCommandsAtWarn: on a new store (its
// migrations are logged at info), the stdio server logs JSON lines at info,
// for operators' log pipelines; a people's command prints no log line.
func TestCLI_ServeLogsJSONAtInfoPeoplesCommandsAtWarn(t *testing.T) {
	t.Parallel()
	code, out, errOut := runIn(t, t.TempDir(), "", "serve")
	if code != 0 || out != "" {
		t.Fatalf("serve with empty stdin: %d %q %q", code, out, errOut)
	}
	serving := false
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		var line struct{ Level, Message string }
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("serve logged a line that is not JSON: %q", l)
		}
		serving = serving || (line.Level == "info" && line.Message == "serving MCP on stdio")
	}
	if !serving {
		t.Fatalf("serve did not log at info:\n%s", errOut)
	}
	code, out, errOut = runIn(t, t.TempDir(), "", "secret", "list")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "KEY") {
		t.Fatalf("secret list on a new store: %d, stdout %q, stderr %q; want a table and no log", code, out, errOut)
	}
}
