package mcpserver_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
)

// A client that opens its SSE stream, never reads it and keeps posting
// calls (issue 11) must not grow the server: calls beyond the session's
// bound are refused with 429 RATE_LIMITED, and the stuck stream is
// disconnected after the write timeout, which closes the session and
// releases everything that waited for it.
func TestSSE_ClientThatDoesNotReadIsRefusedThenDisconnected(t *testing.T) {
	t.Parallel()
	const maxPending = 8
	b := newHandler(t, setupOpts{transport: mcpserver.TransportSSE}, mcpserver.HTTPOptions{
		SSEMaxPending: maxPending, SSEWriteTimeout: 300 * time.Millisecond, SSEKeepAlive: -1,
	})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	token := b.token(t, "acme", false)

	// A raw connection with a small receive buffer, read only up to the
	// endpoint event.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(conn, "GET /sse HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", srv.Listener.Addr(), token)
	r := bufio.NewReaderSize(conn, 16)
	var endpoint string
	for endpoint == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no endpoint event: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			endpoint = srv.URL + strings.TrimSpace(data)
		}
	}

	// (Disconnected means the session is closed: mcp-go no longer knows it
	// and everything that waited for it returned.)
	// tools/list answers are large (kilobytes): the stream's socket fills,
	// a write blocks, and the write timeout ends the stream. Meanwhile,
	// calls beyond the bound of unanswered ones are refused.
	accepted, refused := 0, 0
	var refusal string
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the stuck session is still open after %d calls accepted and %d refused", accepted, refused)
		}
		res, body := post(t, endpoint, token, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, i))
		if res.StatusCode == http.StatusBadRequest && strings.Contains(body, "Invalid session ID") {
			break // disconnected: mcp-go no longer knows the session
		}
		switch res.StatusCode {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			refused++
			refusal = body
			if res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("call %d: %d %s (after %d accepted), want 202 or 429", i, res.StatusCode, body, accepted)
		}
	}
	t.Logf("%d calls accepted, %d refused (bound %d unanswered) before the stuck stream was disconnected", accepted, refused, maxPending)
	if refused == 0 {
		t.Error("no call was refused")
	}
	if !strings.Contains(refusal, modelgate.ERateLimited) || !strings.Contains(refusal, "has not read from GET /sse") {
		t.Errorf("refusal = %s, want RATE_LIMITED saying the client does not read its stream", refusal)
	}
}
