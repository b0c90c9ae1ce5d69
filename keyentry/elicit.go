package keyentry

import (
	"context"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// Elicit offers the key link of refusal err to the calling client as a
// URL-mode elicitation (MCP 2025-11-25), when the client declared the
// elicitation capability with URL mode on a session that can carry a
// request from the server: stdio. (mcp-go's SSE session cannot send a
// request to the client, and stateless streamable HTTP has no stream to
// send it on; there the link is in the refusal only.) Unless the person
// declines, a notifications/elicitation/complete follows once the key is
// stored, from whichever replica served the page. It returns at
// once and reports whether an elicitation was started; the refusal keeps
// add_key_url either way, so a client that ignores the elicitation still
// has the link.
//
// The elicitation is sent beside the refusal rather than instead of it (a
// -32042 URLElicitationRequiredError): clients that implement URL mode
// handle elicitation/create, and the agent still reads the coded refusal
// with every detail it acts on.
func (s *Service) Elicit(ctx context.Context, err error) bool {
	var me *modelgate.Error
	if s == nil || !errors.As(err, &me) || me.Code != modelgate.EMissingCredential {
		return false
	}
	url, _ := me.Details["add_key_url"].(string)
	id := IDFromURL(url)
	srv := server.ServerFromContext(ctx)
	session := server.ClientSessionFromContext(ctx)
	if id == "" || srv == nil || session == nil || !wantsURLElicitation(session) {
		return false
	}
	if _, ok := session.(server.SessionWithElicitation); !ok {
		return false
	}
	provider, _ := me.Details["provider"].(string)
	msg := "Enter your " + provider + " key in the page that opens. It is stored encrypted for your organisation and never passes through this chat."
	// Detached from the call, which ends now; bounded by the link's life
	// and by Close.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.TTL+time.Minute)
	wctx, stop := mergeDone(wctx, s.stop)
	s.o.Log.Info().Str("key_link", id).Msg("key link offered as a URL elicitation")
	// The completion follows the link's use, not the client's answer: the
	// person may open the link before the client's "accept" reaches us (or
	// use the add_key_url of the refusal instead), and a key stored is worth
	// telling either way. Only a decline stops the wait.
	declined := make(chan struct{})
	go func() {
		res, err := srv.RequestURLElicitation(wctx, session, id, url, msg)
		switch {
		case err != nil:
			s.o.Log.Debug().Err(err).Str("key_link", id).Msg("URL elicitation not delivered")
		case res.Action != mcp.ElicitationResponseActionAccept:
			s.o.Log.Info().Str("key_link", id).Str("action", string(res.Action)).Msg("URL elicitation not accepted")
			close(declined)
		}
	}()
	go func() {
		defer cancel()
		defer stop()
		used, endWait := context.WithCancel(wctx)
		defer endWait()
		go func() {
			select {
			case <-declined:
				endWait()
			case <-used.Done():
			}
		}()
		if err := s.WaitUsed(used, id); err != nil {
			return
		}
		if err := srv.SendElicitationComplete(wctx, session, id); err != nil {
			s.o.Log.Warn().Err(err).Str("key_link", id).Msg("elicitation complete not delivered")
		}
	}()
	return true
}

// wantsURLElicitation reports whether the client declared URL mode (an
// empty elicitation capability means form mode only).
func wantsURLElicitation(session server.ClientSession) bool {
	ci, ok := session.(server.SessionWithClientInfo)
	if !ok {
		return false
	}
	c := ci.GetClientCapabilities().Elicitation
	return c != nil && c.URL != nil
}

// mergeDone returns a context that also ends when done is closed.
func mergeDone(ctx context.Context, done <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
