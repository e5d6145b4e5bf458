package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/personality/apierr"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/schemas"
)

// Bounds of the dynamic endpoints.
const (
	maxEntriesPerRequest = 256
	maxLookupResults     = 100
)

// checkpoint is GET /checkpoint: the latest published, cosigned checkpoint,
// from memory.
func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) (int, error) {
	// The watcher polls the store every 50 ms: serve what it saw, and go
	// to the database only before its first poll.
	p, ok := s.watch.published()
	if !ok {
		var err error
		if p, _, err = s.cfg.Store.Latest(r.Context()); err != nil {
			return 0, err
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(p.Note)
	return http.StatusOK, nil
}

// tile is GET /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>].
func (s *Server) tile(w http.ResponseWriter, r *http.Request) (int, error) {
	ref, err := c2sp.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil {
		return 0, apierr.NotFound("not a tlog-tiles path: %v", err)
	}
	var data []byte
	if ref.Entries {
		data, err = s.cfg.Store.EntryBundle(r.Context(), ref.Index, ref.Width)
	} else {
		data, err = s.cfg.Store.Tile(r.Context(), ref)
	}
	if err != nil {
		return 0, err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if ref.Full() {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if ref.Entries {
		// Entry bundles are JSON envelopes and compress well; hash tiles
		// are random bytes and do not.
		w.Header().Set("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			data = s.gzip.get(r.URL.Path, data, ref.Full())
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Write(data)
	return http.StatusOK, nil
}

func uintParam(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || (len(v) > 1 && v[0] == '0') {
		return 0, badRequest("%s: must be a non-negative decimal integer", name)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, v any) (int, error) {
	w.Header().Set("Content-Type", "application/json")
	return http.StatusOK, json.NewEncoder(w).Encode(v)
}

// ProofResponse is the JSON of GET /proof/inclusion and /proof/consistency.
type ProofResponse struct {
	Index    *uint64     `json:"index,omitempty"`
	OldSize  *uint64     `json:"old_size,omitempty"`
	TreeSize uint64      `json:"tree_size"`
	Proof    []c2sp.Hash `json:"proof"`
}

// inclusion is GET /proof/inclusion?index=N&tree_size=S or ?event_id=sha256:<hex>&tree_size=S.
func (s *Server) inclusion(w http.ResponseWriter, r *http.Request) (int, error) {
	size, err := uintParam(r, "tree_size")
	if err != nil {
		return 0, err
	}
	var index uint64
	if id := r.URL.Query().Get("event_id"); id != "" {
		eid, err := parseEventID(id)
		if err != nil {
			return 0, err
		}
		if index, err = s.cfg.Store.EventIndex(r.Context(), eid); err != nil {
			return 0, err
		}
	} else if index, err = uintParam(r, "index"); err != nil {
		return 0, badRequest("give index=<n> or event_id=sha256:<hex>, and tree_size=<n>")
	}
	p, err := s.cfg.Store.InclusionProof(r.Context(), index, size)
	if err != nil {
		return 0, err
	}
	return writeJSON(w, ProofResponse{Index: &index, TreeSize: size, Proof: nonNil(p)})
}

// consistency is GET /proof/consistency?old_size=A&tree_size=B.
func (s *Server) consistency(w http.ResponseWriter, r *http.Request) (int, error) {
	old, err := uintParam(r, "old_size")
	if err != nil {
		return 0, err
	}
	size, err := uintParam(r, "tree_size")
	if err != nil {
		return 0, err
	}
	if old > size {
		return 0, badRequest("old_size %d is above tree_size %d", old, size)
	}
	p, err := s.cfg.Store.ConsistencyProof(r.Context(), old, size)
	if err != nil {
		return 0, err
	}
	return writeJSON(w, ProofResponse{OldSize: &old, TreeSize: size, Proof: nonNil(p)})
}

func nonNil(p []c2sp.Hash) []c2sp.Hash {
	if p == nil {
		return []c2sp.Hash{}
	}
	return p
}

// Entry is one logged entry in JSON answers.
type Entry struct {
	Index    uint64          `json:"index"`
	EventID  string          `json:"event_id,omitempty"`
	Envelope json.RawMessage `json:"envelope"`
	// Proof is a tlog-proof against the latest published checkpoint.
	Proof string `json:"proof,omitempty"`
}

// entries is GET /entries?start=N&count=C (count <= 256).
func (s *Server) entries(w http.ResponseWriter, r *http.Request) (int, error) {
	start, err := uintParam(r, "start")
	if err != nil {
		return 0, err
	}
	count, err := uintParam(r, "count")
	if err != nil || count == 0 || count > maxEntriesPerRequest {
		return 0, badRequest("count: must be 1 to %d", maxEntriesPerRequest)
	}
	size, _, err := s.cfg.Store.Size(r.Context())
	if err != nil {
		return 0, err
	}
	if start >= size {
		return 0, fmt.Errorf("%w: start %d, size %d", tiles.ErrBeyondTree, start, size)
	}
	data, err := s.cfg.Store.Entries(r.Context(), start, min(count, size-start))
	if err != nil {
		return 0, err
	}
	out := make([]Entry, len(data))
	for i, d := range data {
		out[i] = toEntry(start+uint64(i), d)
	}
	return writeJSON(w, map[string]any{"entries": out})
}

func toEntry(idx uint64, data []byte) Entry {
	e := Entry{Index: idx, Envelope: data}
	if env, err := event.ParseEnvelope(data); err == nil {
		e.EventID = env.ID()
	}
	if !json.Valid(data) {
		b, _ := json.Marshal(data) // base64 string
		e.Envelope = b
	}
	return e
}

// withProof adds the entry's tlog-proof against the latest checkpoint.
func (s *Server) withProof(r *http.Request, e Entry, published tiles.Published) (Entry, error) {
	if e.Index >= published.Size {
		return e, nil // integrated but not yet published
	}
	hashes, err := s.cfg.Store.InclusionProof(r.Context(), e.Index, published.Size)
	if err != nil {
		return e, err
	}
	e.Proof = string(c2sp.Proof{Index: e.Index, Hashes: hashes, Checkpoint: published.Note}.Marshal())
	return e, nil
}

// event is GET /event/<event id>: the envelope, index and tlog-proof.
func (s *Server) event(w http.ResponseWriter, r *http.Request) (int, error) {
	id, err := parseEventID(r.PathValue("id"))
	if err != nil {
		return 0, err
	}
	idx, err := s.cfg.Store.EventIndex(r.Context(), id)
	if err != nil {
		return 0, err
	}
	size, _, err := s.cfg.Store.Size(r.Context())
	if err != nil {
		return 0, err
	}
	if idx >= size {
		return 0, tiles.ErrNoSuchEvent // acknowledged, not yet integrated
	}
	published, err := s.latest(r)
	if err != nil {
		return 0, err
	}
	e, err := s.entryWithProof(r, idx, published)
	if err != nil {
		return 0, err
	}
	return writeJSON(w, e)
}

// latest is the newest published checkpoint, the zero one before the first.
func (s *Server) latest(r *http.Request) (tiles.Published, error) {
	published, _, err := s.cfg.Store.Latest(r.Context())
	if err != nil && !errors.Is(err, tiles.ErrNoCheckpoint) {
		return tiles.Published{}, err
	}
	return published, nil
}

// entryWithProof returns the integrated entry at idx with its tlog-proof
// in published, if published holds it.
func (s *Server) entryWithProof(r *http.Request, idx uint64, published tiles.Published) (Entry, error) {
	data, err := s.cfg.Store.Entries(r.Context(), idx, 1)
	if err != nil {
		return Entry{}, err
	}
	if len(data) != 1 {
		return Entry{}, fmt.Errorf("entry %d is missing", idx)
	}
	return s.withProof(r, toEntry(idx, data[0]), published)
}

// LookupResponse is the JSON of GET /lookup/<tag>.
type LookupResponse struct {
	Tag    string  `json:"tag"`
	Events []Entry `json:"events"`
	// Next, if set, is the after= value for the next page.
	Next *uint64 `json:"next,omitempty"`
}

// lookup is GET /lookup/<tag>[?after=<index>]: the events that carry a
// patient's (or a serial's) pseudonymous tag, each with its tlog-proof. The
// log learns which tag is being looked up, not whose it is.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (int, error) {
	tag := r.PathValue("tag")
	if !event.IsTag(tag) {
		return 0, badRequest("tag: must be tag:v1:<64 lowercase hex digits> (compute it with `htlog tag`)")
	}
	after := int64(-1)
	if r.URL.Query().Has("after") {
		a, err := uintParam(r, "after")
		if err != nil {
			return 0, err
		}
		after = int64(a)
	}
	idxs, err := s.cfg.Store.Lookup(r.Context(), tag, after, maxLookupResults+1)
	if err != nil {
		return 0, err
	}
	resp := LookupResponse{Tag: tag, Events: []Entry{}}
	if len(idxs) > maxLookupResults {
		idxs = idxs[:maxLookupResults]
		next := idxs[len(idxs)-1]
		resp.Next = &next
	}
	// Lookup returns integrated entries only; one checkpoint proves them all.
	published, err := s.latest(r)
	if err != nil {
		return 0, err
	}
	for _, idx := range idxs {
		e, err := s.entryWithProof(r, idx, published)
		if err != nil {
			return 0, err
		}
		resp.Events = append(resp.Events, e)
	}
	return writeJSON(w, resp)
}

// schema is GET /schemas/<kind>/v<N>.json.
func (s *Server) schema(w http.ResponseWriter, r *http.Request) (int, error) {
	file := r.PathValue("file")
	v, ok := strings.CutPrefix(strings.TrimSuffix(file, ".json"), "v")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || !strings.HasSuffix(file, ".json") {
		return 0, apierr.NotFound("schemas are at /schemas/<kind>/v<N>.json")
	}
	b, ok := schemas.Schema(r.PathValue("kind"), n)
	if !ok {
		return 0, apierr.NotFound("no such schema")
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
	return http.StatusOK, nil
}

// valueSet is GET /valuesets/<name>.json: a value set the version 2
// schemas draw codes from, with the plain-language text clients show for
// each code (display text never travels on the log).
func (s *Server) valueSet(w http.ResponseWriter, r *http.Request) (int, error) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	vs, found := schemas.LookupValueSet(name)
	if !ok || !found {
		return 0, apierr.NotFound("value sets are at /valuesets/<name>.json: %s", strings.Join(schemas.ValueSetNames(), ", "))
	}
	w.Header().Set("Cache-Control", "public, max-age=86400")
	return writeJSON(w, vs)
}

// healthz fails when no checkpoint was published within MaxCheckpointAge.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) (int, error) {
	p, age, err := s.cfg.Store.Latest(r.Context())
	if errors.Is(err, tiles.ErrNoCheckpoint) {
		return 0, apierr.New(http.StatusServiceUnavailable, "no checkpoint published yet")
	}
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	if age > s.cfg.MaxCheckpointAge.Seconds() {
		return 0, apierr.New(http.StatusServiceUnavailable, "the latest checkpoint (size %d) is %.0fs old, more than %v", p.Size, age, s.cfg.MaxCheckpointAge)
	}
	fmt.Fprintf(w, "ok size %d age %.1fs\n", p.Size, age)
	return http.StatusOK, nil
}
