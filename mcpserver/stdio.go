package mcpserver

import (
	"context"
	"io"
	"log"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"
)

// ServeStdio serves MCP on in/out for one org until ctx ends or in closes.
// Only protocol messages go to out; logs go to log.
func ServeStdio(ctx context.Context, s *server.MCPServer, org string, in io.Reader, out io.Writer, logger zerolog.Logger) error {
	stdio := server.NewStdioServer(s)
	stdio.SetErrorLogger(log.New(zerologWriter{logger}, "", 0))
	stdio.SetContextFunc(func(ctx context.Context) context.Context { return WithOrg(ctx, org) })
	return stdio.Listen(ctx, in, out)
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
