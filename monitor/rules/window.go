package rules

import "time"

// windows counts events per key within a sliding time window, keeping at
// most max+1 times per key.
type windows struct {
	Times table[[]time.Time] `json:"times"`
}

// add records t for key and returns how many times of key fall within the
// window ending at t (including t).
func (w *windows) add(key string, t time.Time, window time.Duration, max int) int {
	ts, _ := w.Times.get(key)
	kept := ts[:0]
	for _, x := range ts {
		if t.Sub(x) < window {
			kept = append(kept, x)
		}
	}
	kept = append(kept, t)
	if len(kept) > max+1 {
		kept = kept[len(kept)-max-1:]
	}
	w.Times.put(key, kept)
	return len(kept)
}
