package server

import (
	"fmt"
	"net/http"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/personality/apierr"
	"golang.org/x/mod/sumdb/note"
)

// registry serves GET /registry: the submitter registry in force (names and
// kinds, no keys) as a note signed by the log's own key, so that clients
// show an organisation's name only when the log vouches for it with the key
// their policy names (client.VerifyRegistry). It is signed per request: the
// registry reloads without a restart, and an Ed25519 signature is cheap.
func (s *Server) registry(w http.ResponseWriter, r *http.Request) (int, error) {
	if s.cfg.Submitters == nil || s.cfg.Signer == nil {
		return 0, apierr.NotFound("this log publishes no submitter registry")
	}
	reg := s.cfg.Submitters()
	if reg == nil {
		return 0, apierr.NotFound("this log publishes no submitter registry")
	}
	var subs []client.RegistrySubmitter
	for _, org := range reg.Orgs() {
		sub, _ := reg.Submitter(org)
		subs = append(subs, client.RegistrySubmitter{Org: sub.Org, Name: sub.Name, Kinds: sub.Kinds})
	}
	text, err := client.RegistryText(s.cfg.Signer.Name(), subs)
	if err != nil {
		return http.StatusInternalServerError, fmt.Errorf("couldn't publish the submitter registry (fix its names in the submitters file): %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, s.cfg.Signer)
	if err != nil {
		return http.StatusInternalServerError, fmt.Errorf("couldn't sign the submitter registry: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(signed)
	return http.StatusOK, nil
}
