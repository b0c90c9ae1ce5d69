package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"
)

// ServeStdio serves MCP on in/out for one org until ctx ends or in closes.
// Only protocol messages go to out; logs go to log.
//
// At the end of input the requests in flight are finished, not cancelled:
// their answers are written before ServeStdio returns nil (so that
// `printf '…call…' | mcp-server` gets its answer). drain bounds that wait
// (0 means 10 s, the default call timeout); calls still running then are
// cancelled and answer as a cancelled call does. Calls of one process take
// turns (see stdioMu).
func ServeStdio(ctx context.Context, s *server.MCPServer, org string, in io.Reader, out io.Writer, logger zerolog.Logger, drain time.Duration) error {
	stdioMu.Lock()
	defer stdioMu.Unlock()
	if drain <= 0 {
		drain = 10 * time.Second
	}
	pending := &pendingRequests{changed: make(chan struct{})}
	stdio := server.NewStdioServer(s)
	stdio.SetErrorLogger(log.New(zerologWriter{logger}, "", 0))
	stdio.SetContextFunc(func(ctx context.Context) context.Context { return WithOrg(ctx, org) })
	r := &drainingReader{ctx: ctx, in: bufio.NewReader(in), pending: pending, drain: drain, log: logger}
	return stdio.Listen(ctx, r, &answerWriter{out: out, pending: pending})
}

// stdioMu makes ServeStdio calls of one process take turns. mcp-go's stdio
// server keeps its one session in a package variable: two served at once
// would share the session's writer (a server request or notification of
// one could go to the other's output) and its client's capabilities. A
// process serves one stdio peer; only tests run several, and they must
// not cross.
var stdioMu sync.Mutex

// pendingRequests counts the requests read whose answers have not been
// written, by JSON-RPC id.
type pendingRequests struct {
	mu      sync.Mutex
	ids     map[string]int
	changed chan struct{} // closed and replaced whenever an answer is written
}

func (p *pendingRequests) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids == nil {
		p.ids = map[string]int{}
	}
	p.ids[id]++
}

func (p *pendingRequests) done(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids[id] == 0 {
		return // an answer to a request not counted (a parse error, say)
	}
	if p.ids[id]--; p.ids[id] == 0 {
		delete(p.ids, id)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait returns when no request is pending, ctx ends or timeout passes;
// it returns how many requests were still pending.
func (p *pendingRequests) wait(ctx context.Context, timeout time.Duration) int {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		n, changed := len(p.ids), p.changed
		p.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return n
		case <-t.C:
			return n
		}
	}
}

// drainingReader passes the input on line by line, counting the requests
// (messages with a method and an id), and holds back the end of input until
// their answers are written or the drain time has passed: mcp-go cancels
// the calls in flight as soon as it reads the end of input.
type drainingReader struct {
	ctx     context.Context
	in      *bufio.Reader
	pending *pendingRequests
	drain   time.Duration
	log     zerolog.Logger
	buf     []byte // read from in, not yet passed on
	err     error  // the error of in, once it has returned one
}

func (r *drainingReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			if errors.Is(r.err, io.EOF) {
				if n := r.pending.wait(r.ctx, r.drain); n > 0 {
					r.log.Warn().Int("requests", n).Dur("drain", r.drain).Msg("end of input: calls still running after the drain time are cancelled")
				}
			}
			return 0, r.err
		}
		line, err := r.in.ReadBytes('\n')
		if len(line) > 0 && err != nil && line[len(line)-1] != '\n' {
			line = append(line, '\n') // the end of input ends the last line
		}
		r.buf, r.err = line, err
		if id, ok := requestID(line); ok {
			r.pending.add(id)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// answerWriter passes the output on and marks the requests answered.
// mcp-go writes each message, a line, in one Write.
type answerWriter struct {
	out     io.Writer
	pending *pendingRequests
}

func (w *answerWriter) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	for _, line := range bytes.Split(p, []byte("\n")) {
		if id, ok := answerID(line); ok {
			w.pending.done(id)
		}
	}
	return n, err
}

// message is what requestID and answerID look at in a JSON-RPC message.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// requestID returns the id of a request (a method and a non-null id).
func requestID(line []byte) (string, bool) {
	var m message
	if json.Unmarshal(line, &m) != nil || m.Method == "" {
		return "", false
	}
	return idKey(m.ID)
}

// answerID returns the id of an answer (a result or an error, no method).
func answerID(line []byte) (string, bool) {
	var m message
	if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &m) != nil || m.Method != "" || (m.Result == nil && m.Error == nil) {
		return "", false
	}
	return idKey(m.ID)
}

// idKey returns a JSON-RPC id in one form for a request and its answer
// (1 and 1.0 are one id; "1" is another).
func idKey(raw json.RawMessage) (string, bool) {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return "s:" + s, true
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return "n:" + strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

// zerologWriter turns mcp-go's standard-library log lines into zerolog
// warnings on stderr.
type zerologWriter struct{ log zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.log.Warn().Str("component", "mcp").Msg(msg)
	return len(p), nil
}
