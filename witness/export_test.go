package witness

// SetBeforeSwap installs a hook that runs between a request's checks and its
// compare-and-swap, so tests can stall a request inside the race window.
func (w *Witness) SetBeforeSwap(f func()) { w.beforeSwap = f }
