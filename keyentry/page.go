package keyentry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/gate"
)

//go:embed web/page.html
var pageHTML string

//go:embed web/style.css
var styleCSS string

// page is parsed on first use, not when the program starts.
var page = sync.OnceValue(func() *template.Template { return template.Must(template.New("page").Parse(pageHTML)) })

// csp allows nothing but the page's own inline style (by hash) and a form
// posted to the page itself: no script, no image, no frame, no other origin.
var csp = func() string {
	h := sha256.Sum256([]byte(styleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// submitTimeout bounds a submit from the spend of its link on, when it no
// longer ends with the browser: the live check of the key (5 s by default)
// and a few store writes need far less, so only a stuck store reaches it.
const submitTimeout = time.Minute

// releaseTimeout bounds giving a link back after a failed store.
const releaseTimeout = 10 * time.Second

// maxFormBytes bounds a submitted form: the form token, one name and a
// value as long as the secret rules look at (gate.MaxSecretInputBytes),
// however it is URL-encoded (up to three bytes for one). Every value up to
// that cap reaches SetOrgSecret and gets its answer, which names the
// secret, as set_org_secret and `mcp-server secret set` do; a longer form
// is refused as too long without being read further.
const maxFormBytes = 4<<10 + 3*gate.MaxSecretInputBytes

// view is what the template shows. It never holds a secret value.
type view struct {
	Title     string
	Heading   string
	Kind      string // "form", "success", "error"
	Message   string
	Org       string
	Provider  string
	Runtime   string
	Model     string
	Names     []string
	Chosen    string
	FormToken string
	Problem   string // why the last submit was not stored
	Expires   string
	Style     template.CSS
}

// Handler serves the page: GET PathPrefix+token shows the form, POST stores
// the key. Mount it at PathPrefix on the public listener; it needs no
// bearer token (the link's secret is the credential).
func (s *Service) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossSite))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathPrefix+"{token}", s.show)
	mux.Handle("POST "+PathPrefix+"{token}", cop.Handler(http.HandlerFunc(s.submit)))
	return headers(mux)
}

// headers sets the security headers of every answer, including 404s.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// lookup finds the link of the request's token. It returns the link with
// its secret, or the page to answer with (and the link, when the token
// named one, for the audit).
func (s *Service) lookup(r *http.Request) (l *modelgate.KeyLink, secret string, status int, v *view) {
	id, secret, ok := parseToken(r.PathValue("token"))
	if !ok {
		auth.Verify("", nil) // the same cost as a link that exists
		return nil, "", http.StatusNotFound, unknownView()
	}
	l, hash, err := s.o.Store.KeyLinkByID(r.Context(), id)
	if err != nil {
		auth.Verify(secret, nil) // the same cost as a link that exists
		if modelgate.ErrorCode(err) == modelgate.ENotFound {
			return nil, "", http.StatusNotFound, unknownView()
		}
		s.o.Log.Error().Err(err).Msg("key entry: read link")
		return nil, "", http.StatusServiceUnavailable, errorView("Try again in a moment", "The key could not be looked up just now. Nothing was stored. Reload this page in a moment.")
	}
	if !auth.Verify(secret, hash) {
		// The id exists but the secret is wrong: a forged or mangled link.
		return l, "", http.StatusNotFound, unknownView()
	}
	return l, secret, 0, nil
}

// refuseLookup records a lookup that found no live link's secret: a wrong
// secret for a link that exists, or a token that names none (a store
// failure was logged by lookup).
func (s *Service) refuseLookup(r *http.Request, l *modelgate.KeyLink, status int) {
	switch {
	case l != nil:
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, "FORGED_TOKEN")
	case status == http.StatusNotFound:
		s.unknownLink(r)
	}
}

func (s *Service) show(w http.ResponseWriter, r *http.Request) {
	l, secret, status, v := s.lookup(r)
	if v != nil {
		s.refuseLookup(r, l, status)
		render(w, status, v)
		return
	}
	if dead := s.dead(r, l); dead != nil {
		render(w, http.StatusGone, dead)
		return
	}
	render(w, http.StatusOK, s.formView(l, secret, l.Names[0], ""))
}

// dead returns the page of a used or expired link (and records the
// attempt), or nil for a live link.
func (s *Service) dead(r *http.Request, l *modelgate.KeyLink) *view {
	if l.UsedAt != nil {
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, "LINK_USED")
		return errorView("This link was already used", "A key was already stored with this link, and a link works only once. Nothing was stored now. If the key must change, ask your assistant for a new link.")
	}
	if !s.o.Now().Before(l.ExpiresAt) {
		s.refuse(r, l, modelgate.AuditKeyLinkExpired, "LINK_EXPIRED")
		return errorView("This link has expired", "Links to enter a key work for a short time only. Nothing was stored. Ask your assistant to try again: it will get a new link.")
	}
	return nil
}

// providerName is the provider's display name in the catalog (its id
// when the catalog has no such provider any more).
func (s *Service) providerName(id string) string {
	if name, ok := s.o.Service.ProviderDisplayName(id); ok && name != "" {
		return name
	}
	return id
}

func (s *Service) formView(l *modelgate.KeyLink, secret, chosen, problem string) *view {
	name := s.providerName(l.Provider)
	return &view{
		Title: "Add a key for " + name, Heading: "Add your " + name + " key", Kind: "form",
		Org: l.Org, Provider: name, Runtime: l.Runtime, Model: l.Model, Names: l.Names, Chosen: chosen,
		FormToken: formToken(secret), Problem: problem,
		Expires: l.ExpiresAt.UTC().Format("15:04 MST, 2 Jan 2006"),
	}
}

func (s *Service) submit(w http.ResponseWriter, r *http.Request) {
	l, secret, status, v := s.lookup(r)
	if v != nil {
		s.refuseLookup(r, l, status)
		render(w, status, v)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, modelgate.EInvalidArgument)
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			// Only the value can make a form this large. The link is kept,
			// as for any value the secret rules refuse.
			render(w, http.StatusUnprocessableEntity, s.formView(l, secret, l.Names[0],
				fmt.Sprintf("The key was not stored: the value must be valid UTF-8 of at most %d bytes.", gate.MaxSecretValueBytes)))
			return
		}
		render(w, http.StatusBadRequest, errorView("The form could not be read", "Nothing was stored. Go back, reload the page and try again."))
		return
	}
	if !hmacEqual(r.PostForm.Get("form_token"), formToken(secret)) {
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, "FORM_TOKEN")
		render(w, http.StatusForbidden, errorView("This form was not sent from its page", "Nothing was stored. Open the link your assistant gave you and enter the key there."))
		return
	}
	if dead := s.dead(r, l); dead != nil {
		render(w, http.StatusGone, dead)
		return
	}
	name, value := r.PostForm.Get("name"), r.PostForm.Get("value")
	if !slices.Contains(l.Names, name) {
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, modelgate.EInvalidArgument)
		render(w, http.StatusBadRequest, s.formView(l, secret, l.Names[0], "Choose one of the names offered."))
		return
	}
	// From the spend on, the submit runs to its end even if the browser
	// goes away (which cancels the request's context): the link must end
	// up spent with the key stored, or given back, never spent with
	// nothing stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), submitTimeout)
	defer cancel()
	at := s.o.Now().UTC()
	spent, err := s.o.Store.SpendKeyLink(ctx, l.ID, name, at)
	if err != nil {
		// The spend may have committed before the error was seen: give it
		// back (a release does nothing to a link not spent at exactly at).
		s.release(r, l.ID, at)
		s.o.Log.Error().Err(err).Str("key_link", l.ID).Msg("key entry: spend link")
		render(w, http.StatusServiceUnavailable, errorView("Try again in a moment", "The key could not be stored just now. Nothing was stored. Go back and submit again."))
		return
	}
	if !spent {
		// Another submit won, or the link expired since it was read.
		fresh, _, err := s.o.Store.KeyLinkByID(ctx, l.ID)
		if err == nil {
			l = fresh
		}
		if dead := s.dead(r, l); dead != nil {
			render(w, http.StatusGone, dead)
			return
		}
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, "LINK_USED")
		render(w, http.StatusConflict, errorView("This link is being used", "Another submit with this link is in progress. Nothing was stored by this one."))
		return
	}
	caller := modelgate.Caller{Org: l.Org, TokenPrefix: l.TokenPrefix}
	if _, err := s.o.Service.SetOrgSecret(ctx, caller, name, value); err != nil {
		// Give the link back: the person can correct the value and submit again.
		s.release(r, l.ID, at)
		code := modelgate.ErrorCode(err)
		// Audited every time: it takes a live link, its secret and its
		// form, and already cost a spend and a release.
		s.audit(ctx, l, modelgate.AuditKeyLinkRefused, code, name, 0)
		problem := "The key could not be stored just now; nothing was stored. Try again in a moment."
		status := http.StatusServiceUnavailable
		if code != modelgate.EInternal {
			// A coded message names the rule, never the value.
			problem, status = "The key was not stored: "+modelgate.ErrorMessage(err), http.StatusUnprocessableEntity
		} else {
			s.o.Log.Error().Err(err).Str("key_link", l.ID).Msg("key entry: store key")
		}
		render(w, status, s.formView(l, secret, name, problem))
		return
	}
	s.audit(ctx, l, modelgate.AuditKeyLinkUsed, "", name, 0)
	s.used(l.ID)
	render(w, http.StatusOK, &view{
		Title: "Key stored", Heading: "Key stored", Kind: "success", Org: l.Org, Provider: s.providerName(l.Provider),
		Runtime: l.Runtime, Model: l.Model, Chosen: name,
	})
}

// release gives back the link id spent at at, with a time of its own and
// whether or not the browser is still there: it runs after a failed store,
// which may have used up the submit's time.
func (s *Service) release(r *http.Request, id string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), releaseTimeout)
	defer cancel()
	if err := s.o.Store.ReleaseKeyLink(ctx, id, at); err != nil {
		s.o.Log.Error().Err(err).Str("key_link", id).Msg("key entry: release link")
	}
}

// crossSite answers a form posted from another site (the browser said so
// with Sec-Fetch-Site or Origin): nothing is read or stored.
func (s *Service) crossSite(w http.ResponseWriter, r *http.Request) {
	// Audited as CROSS_SITE only with the link's secret: with a wrong one
	// it is a forged link like any other, and bounded the same way.
	l, _, status, v := s.lookup(r)
	if v != nil {
		s.refuseLookup(r, l, status)
	} else {
		s.refuse(r, l, modelgate.AuditKeyLinkRefused, "CROSS_SITE")
	}
	render(w, http.StatusForbidden, errorView("Refused: sent from another site", "This form can only be sent from its own page. Nothing was stored."))
}

func hmacEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func unknownView() *view {
	return errorView("This link is not valid", "The link is incomplete or was never made here. Nothing was stored. Copy the whole link from your assistant, or ask it for a new one.")
}

func errorView(heading, msg string) *view {
	return &view{Title: heading, Heading: heading, Kind: "error", Message: msg}
}

func render(w http.ResponseWriter, status int, v *view) {
	v.Style = template.CSS(styleCSS)
	var b bytes.Buffer
	if err := page().Execute(&b, v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
