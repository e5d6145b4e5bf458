package tiles

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Claim records and returns the sponsor that registered a trial (the
// submit.TrialClaims contract): the first registration admitted claims
// its registry id, durably, before it is queued; later events of the trial
// are admitted only from that sponsor. A claim whose registration never
// reached the log (the replica crashed in between) still names the sponsor
// that asked, which may register again.
func (s *Store) Claim(ctx context.Context, registryID, sponsor string) (string, error) {
	// A claim never changes once made, on any replica: remembered here,
	// a trial's later events need no database query.
	if owner, ok := s.trialOwners.Load(registryID); ok {
		return owner.(string), nil
	}
	if sponsor != "" {
		if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO htlog_trials (registry_id, sponsor) VALUES (?, ?)", registryID, sponsor); err != nil {
			return "", fmt.Errorf("couldn't claim the trial: %w", err)
		}
	}
	var owner string
	err := s.db.QueryRowContext(ctx, "SELECT sponsor FROM htlog_trials WHERE registry_id = ?", registryID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("couldn't read the trial's claim: %w", err)
	}
	s.trialOwners.Store(registryID, owner)
	return owner, nil
}

// LoggedEntry returns the logged entry of the event with identity hash id,
// or nil when it is not integrated.
func (s *Store) LoggedEntry(ctx context.Context, id [32]byte) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx,
		"SELECT e.data FROM htlog_events v JOIN htlog_entries e ON e.idx = v.idx WHERE v.event_id = ?", id[:]).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't look the event up: %w", err)
	}
	return data, nil
}
