package monitor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

// Triage: a regulator moves a finding between the states of finding.State
// with a note. Regulators are named in Config.Regulators with a secret
// token each. Two ways in, both safe from cross-site request forgery:
//
//   - an API client sends the token in an Authorization header (Bearer, or
//     Basic with the regulator's name as user) and a JSON body; a browser
//     never adds such a header or a JSON content type to a cross-site
//     request without a CORS preflight, which the monitor does not grant;
//   - a person signs in on the dashboard's form (POST /login), which sets a
//     SameSite=Strict, HttpOnly session cookie, and every triage form
//     carries the session's own random CSRF token, checked in constant time.
//
// Every read view stays public.

// Regulator is a person or system allowed to triage findings.
type Regulator struct {
	// Name is recorded in a finding's history.
	Name string
	hash [sha256.Size]byte
}

// NewRegulator returns a regulator who signs in with token.
func NewRegulator(name, token string) Regulator {
	return Regulator{Name: name, hash: sha256.Sum256([]byte(token))}
}

// authenticate returns the regulator whose token is token (and whose name
// is name, unless name is empty). Every regulator is compared, in constant
// time, whatever matches.
func (m *Monitor) authenticate(name, token string) (string, bool) {
	h := sha256.Sum256([]byte(token))
	found := ""
	for _, r := range m.cfg.Regulators {
		tokenOK := subtle.ConstantTimeCompare(h[:], r.hash[:])
		nameOK := 1
		if name != "" {
			nameOK = subtle.ConstantTimeCompare([]byte(name), []byte(r.Name))
		}
		if tokenOK&nameOK == 1 {
			found = r.Name
		}
	}
	return found, found != ""
}

// sessionCookie names the dashboard's session cookie.
const sessionCookie = "htlog_session"

// sessionTTL is how long a sign-in lasts; maxSessions bounds the sessions
// kept (the oldest goes first).
const (
	sessionTTL  = 8 * time.Hour
	maxSessions = 1024
)

type session struct {
	name    string
	csrf    string
	expires time.Time
}

// sessions are the dashboard's signed-in regulators, in memory (a restart
// signs everyone out).
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func randomHex() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sessions) start(name string, now time.Time) (id string, se session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]session{}
	}
	oldest, oldestID := now.Add(sessionTTL+time.Hour), ""
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		} else if v.expires.Before(oldest) {
			oldest, oldestID = v.expires, k
		}
	}
	if len(s.m) >= maxSessions {
		delete(s.m, oldestID)
	}
	id, se = randomHex(), session{name: name, csrf: randomHex(), expires: now.Add(sessionTTL)}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(r *http.Request, now time.Time) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[c.Value]
	if !ok || now.After(se.expires) {
		return session{}, false
	}
	return se, true
}

func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.m, c.Value)
		s.mu.Unlock()
	}
}

// localPath returns p if it is a path on this site, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// handleLogin is POST /login: a form with name, token and next.
func (m *Monitor) handleLogin(w http.ResponseWriter, r *http.Request) (int, error) {
	if d := m.loginLimit.wait(r, time.Now()); d > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(d.Seconds())+1))
		return http.StatusTooManyRequests, errors.New("too many sign-in attempts from this address: try again later")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, errors.New("body: a sign-in form of at most 4 KiB")
	}
	name, ok := m.authenticate(r.PostForm.Get("name"), r.PostForm.Get("token"))
	if !ok {
		m.log.Info("sign-in refused")
		return http.StatusForbidden, errors.New("sign-in refused: unknown name or token")
	}
	id, _ := m.sessions.start(name, time.Now())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: m.cfg.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	m.log.Info("regulator signed in", "regulator", name)
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
	return 0, nil
}

// handleLogout is POST /logout.
func (m *Monitor) handleLogout(w http.ResponseWriter, r *http.Request) (int, error) {
	m.sessions.end(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: m.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return 0, nil
}

// TriageRequest is the JSON body of POST /findings/<id>/state.
type TriageRequest struct {
	// State is the state to move to.
	State string `json:"state"`
	// Note says why (required, at most MaxNoteLength characters; public).
	Note string `json:"note"`
}

// MaxNoteLength bounds a triage note, in characters.
const MaxNoteLength = 2000

// checkNote checks a triage note: 1 to MaxNoteLength characters of UTF-8
// text without control characters but line breaks.
func checkNote(n string) error {
	n = strings.TrimSpace(n)
	switch {
	case n == "":
		return errors.New("note: required (say why)")
	case !utf8.ValidString(n):
		return errors.New("note: must be UTF-8 text")
	case utf8.RuneCountInString(n) > MaxNoteLength:
		return fmt.Errorf("note: at most %d characters", MaxNoteLength)
	}
	for _, c := range n {
		if unicode.IsControl(c) && c != '\n' && c != '\r' && c != '\t' {
			return errors.New("note: must not hold control characters")
		}
	}
	return nil
}

// handleTriage is POST /findings/<id>/state, from an API client (an
// Authorization header and a JSON TriageRequest; answers the finding as
// JSON) or from the dashboard's form (the session cookie and its CSRF
// token; answers a redirect to the finding's page).
func (m *Monitor) handleTriage(w http.ResponseWriter, r *http.Request) (int, error) {
	id := r.PathValue("id")
	if !evidenceID.MatchString(id) {
		return http.StatusBadRequest, errors.New("finding id: must be 64 lowercase hex digits")
	}
	var who string
	var req TriageRequest
	form := false
	if auth := r.Header.Get("Authorization"); auth != "" {
		if d := m.triageLimit.wait(r, time.Now()); d > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(d.Seconds())+1))
			return http.StatusTooManyRequests, errors.New("too many triage requests from this address: try again later")
		}
		var ok bool
		if token, found := strings.CutPrefix(auth, "Bearer "); found {
			who, ok = m.authenticate("", token)
		} else if user, pass, basic := r.BasicAuth(); basic {
			who, ok = m.authenticate(user, pass)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="htlog-monitor"`)
			return http.StatusUnauthorized, errors.New("authorization: unknown token")
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return http.StatusUnsupportedMediaType, errors.New("content type: must be application/json")
		}
		body, err := readBody(w, r, 16<<10)
		if err != nil {
			return http.StatusBadRequest, err
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return http.StatusBadRequest, errors.New("body: must be JSON {\"state\": ..., \"note\": ...}")
		}
	} else {
		se, ok := m.sessions.get(r, time.Now())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="htlog-monitor"`)
			return http.StatusUnauthorized, errors.New("sign in as a regulator to triage findings")
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			return http.StatusBadRequest, errors.New("body: a form of at most 16 KiB")
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(se.csrf)) != 1 {
			return http.StatusForbidden, errors.New("the form is stale or from another site: reload the finding's page and try again")
		}
		who, form = se.name, true
		req = TriageRequest{State: r.PostForm.Get("state"), Note: r.PostForm.Get("note")}
	}
	to, err := finding.ParseState(req.State)
	if err != nil {
		return http.StatusBadRequest, err
	}
	if err := checkNote(req.Note); err != nil {
		return http.StatusBadRequest, err
	}
	f, err := m.cfg.Store.Finding(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound, errors.New("no such finding")
	}
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if err := finding.CheckMove(f.State, to); err != nil {
		return http.StatusConflict, err
	}
	t := finding.Transition{ID: id, Who: who, At: time.Now().UTC(), From: f.State, To: to, Note: strings.TrimSpace(req.Note)}
	switch err := m.cfg.Store.Triage(r.Context(), t); {
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, errors.New("the finding's state changed meanwhile: reload it and try again")
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, errors.New("no such finding")
	case err != nil:
		return http.StatusInternalServerError, err
	}
	m.m.triage.WithLabelValues(string(t.To)).Inc()
	m.log.Info("finding triaged", "finding", id, "from", t.From, "to", t.To, "regulator", who)
	if form {
		http.Redirect(w, r, "/finding/"+url.PathEscape(id), http.StatusSeeOther)
		return 0, nil
	}
	f.State = to
	w.Header().Set("Content-Type", "application/json")
	return 0, json.NewEncoder(w).Encode(f)
}
