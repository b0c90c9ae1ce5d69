package mcpserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/modelgate/modelgate"
)

// Bounds of an SSE session (HTTPOptions.SSEMaxPending, SSEWriteTimeout).
const (
	// DefaultSSEMaxPending is how many calls a session may have whose
	// answers have not been written to its stream.
	DefaultSSEMaxPending = 64
	// DefaultSSEWriteTimeout is how long one write to an SSE stream may
	// take before the client counts as stuck and is disconnected.
	DefaultSSEWriteTimeout = 10 * time.Second
)

// sseStream is what the server knows of one open SSE stream besides what
// mcp-go keeps: how many calls posted to its session still wait for their
// answer to be written, and how to end it.
//
// mcp-go answers every POST /message with 202 and runs the call on a
// goroutine that waits for room in the session's queue (100 events) as long
// as the stream is open, and the stream writes without a deadline. A client
// that never reads its stream and keeps posting therefore grew the server
// by one blocked goroutine with its request and answer per call, for as
// long as it kept the socket open. The bound refuses calls beyond
// SSEMaxPending unanswered ones, so at most that many wait per session;
// the write deadline ends a stream whose client does not read, which closes
// the session and releases everything waiting for it.
type sseStream struct {
	id     string
	cancel context.CancelFunc // ends the stream's request, so mcp-go closes the session

	mu      sync.Mutex
	pending map[string]int // calls accepted and not yet answered on the stream, by JSON-RPC id
	n       int            // the sum of pending
}

// streamKey is the context key of the *sseStream of a GET /sse request.
type streamKey struct{}

// reserve counts a call about to be accepted; it returns false if the
// session already has max calls waiting for their answers.
func (st *sseStream) reserve(id string, max int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.n >= max {
		return false
	}
	st.pending[id]++
	st.n++
	return true
}

// release uncounts a call: its answer was written, or it was not accepted.
func (st *sseStream) release(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending[id] == 0 {
		return
	}
	if st.pending[id]--; st.pending[id] == 0 {
		delete(st.pending, id)
	}
	st.n--
}

// streams are the open SSE streams by session id.
type streams struct{ m sync.Map }

func (s *streams) get(id string) *sseStream {
	v, _ := s.m.Load(id)
	st, _ := v.(*sseStream)
	return st
}

// guardStream wraps GET /sse: it gives mcp-go a response writer with a
// write deadline whose failure ends the stream, and registers the stream
// under its session id (set by the session id generator, see
// registerStream) while it is open.
func (h *HTTPHandler) guardStream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		st := &sseStream{cancel: cancel, pending: map[string]int{}}
		defer func() {
			if st.id != "" {
				h.streams.m.Delete(st.id)
			}
		}()
		sw := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w), st: st, timeout: h.o.SSEWriteTimeout, h: h}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, streamKey{}, st)))
	})
}

// registerStream records the session id of the stream being opened with
// ctx; the session id generator calls it.
func (h *HTTPHandler) registerStream(ctx context.Context, id string) {
	if st, ok := ctx.Value(streamKey{}).(*sseStream); ok {
		st.id = id
		h.streams.m.Store(id, st)
	}
}

// boundSession wraps POST /message: a call (a request with an id) to a
// session that already has SSEMaxPending calls waiting for their answers is
// refused with 429 before mcp-go accepts it.
func (h *HTTPHandler) boundSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := h.streams.get(r.URL.Query().Get("sessionId"))
		if st == nil || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, ok := r.Body.(interface{ Bytes() []byte })
		var id string
		if ok {
			id, ok = requestID(body.Bytes())
		}
		if !ok {
			next.ServeHTTP(w, r) // a notification, an answer, or not JSON: nothing to wait for
			return
		}
		if !st.reserve(id, h.o.SSEMaxPending) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{
				"code": modelgate.ERateLimited,
				"error": fmt.Sprintf("this SSE session has %d calls whose answers its client has not read from GET /sse; "+
					"read the event stream, then send more", h.o.SSEMaxPending),
				"retry_after_seconds": 1,
			})
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusAccepted {
			st.release(id) // not accepted: no answer will come on the stream
		}
	})
}

// bodyBytes is the request body readBody leaves: its bytes, readable again.
type bodyBytes struct{ *bytes.Reader }

func (b bodyBytes) Close() error { return nil }

// Bytes returns the whole body.
func (b bodyBytes) Bytes() []byte {
	all := make([]byte, b.Size())
	b.ReadAt(all, 0)
	return all
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// streamWriter is the response writer of an SSE stream: every write and
// flush has a deadline, a failed one ends the stream, and each answer
// written releases its call's place in the session's bound.
type streamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	st      *sseStream
	timeout time.Duration
	h       *HTTPHandler
	once    sync.Once
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.stuck(err)
		return n, err
	}
	// mcp-go writes one event per Write: "event: message\ndata: {…}\n\n".
	for _, line := range bytes.Split(p, []byte("\n")) {
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			if id, ok := answerID(data); ok {
				w.st.release(id)
			}
		}
	}
	return n, nil
}

// Flush sends what was written, with the write deadline.
func (w *streamWriter) Flush() {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	if err := w.rc.Flush(); err != nil {
		w.stuck(err)
	}
}

// stuck ends the stream after a failed write: the client does not read
// (or is gone). mcp-go then closes the session, and the calls waiting to
// queue their answers return.
func (w *streamWriter) stuck(err error) {
	w.once.Do(func() {
		w.h.o.Log.Warn().Err(err).Dur("write_timeout", w.timeout).Str("session", w.st.id).
			Msg("SSE client does not read its stream; disconnected")
		w.st.cancel()
	})
}

// Unwrap lets http.ResponseController reach the connection.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
