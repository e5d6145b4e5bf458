package store

// SetMaxPacket makes s act as if the server's max_allowed_packet were n
// (below the real one), so a test can cross the limit without sending a
// gigabyte to a server configured with one.
func SetMaxPacket(s *MySQL, n int64) { s.maxPacket = n }
