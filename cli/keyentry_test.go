package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// refusalOverStdio runs `serve` (stdio) with args on the embedded store in a new
// directory, makes one provision_workspace call that needs a key, and
// returns its error object.
func refusalOverStdio(t *testing.T, args ...string) map[string]any {
	t.Helper()
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	var stderr bytes.Buffer
	dir := t.TempDir()
	exited := make(chan int, 1)
	go func() {
		exited <- Main(Env{Args: append([]string{"serve"}, args...), Stdin: serverIn, Stdout: serverOut, Stderr: &stderr,
			Getenv: func(k string) string { return map[string]string{"MODELGATE_DATA_DIR": dir}[k] }})
		serverOut.Close()
	}()
	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))),
		client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "cli-test", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "provision_workspace"
	req.Params.Arguments = map[string]any{"name": "w", "runtime": "claude-code", "model": "claude-sonnet-4-6"}
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	var obj map[string]any
	if err := json.Unmarshal([]byte(text.Text), &obj); err != nil || !res.IsError {
		t.Fatalf("provision_workspace = %s, want a refusal", text.Text)
	}
	c.Close()
	clientOut.Close()
	if code := <-exited; code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	return obj
}

func TestServe_KeyEntryOnStdioByDefaultAndOffWhenAsked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantLink bool
	}{
		{"default", nil, true},
		{"--key-entry=off", []string{"--key-entry=off"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj := refusalOverStdio(t, tt.args...)
			link, _ := obj["add_key_url"].(string)
			if obj["code"] != "MISSING_BYOK_CREDENTIAL" || (link != "") != tt.wantLink {
				t.Fatalf("refusal = %v, want a link: %v", obj, tt.wantLink)
			}
			if tt.wantLink && !strings.HasPrefix(link, "http://127.0.0.1:") {
				t.Fatalf("stdio link %q is not on a loopback address", link)
			}
		})
	}
}

func TestServe_RefusesABadKeyEntryConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--key-entry=maybe"}, "--key-entry"},
		{[]string{"--key-link-ttl=0s"}, "--key-link-ttl"},
		{[]string{"--transport", "http", "--addr", "127.0.0.1:0", "--public-url", "ftp://example.com"}, "--public-url"},
	}
	for _, tt := range tests {
		code, _, stderr := runIn(t, t.TempDir(), "", append([]string{"serve"}, tt.args...)...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want a refusal naming %s", tt.args, code, stderr, tt.want)
		}
	}
}

func TestPublicURL_IsTheFlagOrTheListenersAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct{ flag, want string }{
		{"", "http://" + ln.Addr().String()},
		{"https://modelgate.example.com/", "https://modelgate.example.com"},
		{"https://example.com/modelgate", "https://example.com/modelgate"},
	}
	for _, tt := range tests {
		got, err := publicURL(&Config{PublicURL: tt.flag}, ln)
		if err != nil || got != tt.want {
			t.Errorf("publicURL(%q) = %q, %v; want %q", tt.flag, got, err, tt.want)
		}
	}
	for _, bad := range []string{"example.com", "ftp://example.com", "https://example.com/?a=b", "https://"} {
		if _, err := publicURL(&Config{PublicURL: bad}, ln); err == nil {
			t.Errorf("publicURL(%q) accepted", bad)
		}
	}
}
