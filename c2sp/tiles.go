package c2sp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Constants of the tlog-tiles layout.
const (
	// TileHeight is the number of tree levels one tile spans.
	TileHeight = 8
	// TileWidth is the number of hashes (or entries) in a full tile.
	TileWidth = 1 << TileHeight
	// MaxEntrySize is the largest entry an entry bundle can hold (uint16 length prefix).
	MaxEntrySize = 1<<16 - 1
	// ContentTypeCheckpoint is the content type of a served checkpoint.
	ContentTypeCheckpoint = "text/plain; charset=utf-8"
)

// TilePath returns the tlog-tiles path (without the prefix, without a leading
// slash) of the hash tile at level and index holding width hashes; width
// TileWidth means a full tile.
func TilePath(level uint8, index uint64, width int) string {
	return "tile/" + strconv.Itoa(int(level)) + "/" + encodeTileIndex(index) + partialSuffix(width)
}

// EntriesPath returns the tlog-tiles path of the entry bundle at index holding
// width entries; width TileWidth means a full bundle.
func EntriesPath(index uint64, width int) string {
	return "tile/entries/" + encodeTileIndex(index) + partialSuffix(width)
}

func partialSuffix(width int) string {
	if width >= TileWidth {
		return ""
	}
	return ".p/" + strconv.Itoa(width)
}

// encodeTileIndex writes n in 3-digit groups, every group but the last
// prefixed by "x": 1234067 becomes x001/x234/067.
func encodeTileIndex(n uint64) string {
	groups := []string{fmt.Sprintf("%03d", n%1000)}
	for n >= 1000 {
		n /= 1000
		groups = append(groups, fmt.Sprintf("x%03d", n%1000))
	}
	for i, j := 0, len(groups)-1; i < j; i, j = i+1, j-1 {
		groups[i], groups[j] = groups[j], groups[i]
	}
	return strings.Join(groups, "/")
}

// TileRef names one tile: a hash tile (Entries false) at Level, or an entry
// bundle (Entries true); Width is TileWidth for a full tile.
type TileRef struct {
	Entries bool
	Level   uint8
	Index   uint64
	Width   int
}

// Path returns the tlog-tiles path of the tile.
func (t TileRef) Path() string {
	if t.Entries {
		return EntriesPath(t.Index, t.Width)
	}
	return TilePath(t.Level, t.Index, t.Width)
}

// Full reports whether the tile is full, and so will never change.
func (t TileRef) Full() bool { return t.Width == TileWidth }

// ParseTilePath parses a tlog-tiles path such as "tile/0/x001/234.p/17" or
// "tile/entries/005" strictly: canonical level, 3-digit groups, and a partial
// width between 1 and 255.
func ParseTilePath(path string) (TileRef, error) {
	var t TileRef
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return t, errors.New("tile path must start with tile/")
	}
	levelText, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return t, errors.New("tile path has no index")
	}
	if levelText == "entries" {
		t.Entries = true
	} else {
		level, err := ParseDecimal(levelText)
		if err != nil || level > 63 {
			return t, fmt.Errorf("tile level %q is not a decimal between 0 and 63", truncate(levelText))
		}
		t.Level = uint8(level)
	}
	t.Width = TileWidth
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := ParseDecimal(rest[i+3:])
		if err != nil || w == 0 || w >= TileWidth {
			return t, fmt.Errorf("partial tile width %q is not between 1 and %d", truncate(rest[i+3:]), TileWidth-1)
		}
		t.Width = int(w)
		rest = rest[:i]
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 7 {
		return t, errors.New("tile index has too many groups")
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return t, fmt.Errorf("tile index group %q must start with x", truncate(g))
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return t, fmt.Errorf("tile index group %q is not three digits", truncate(g))
		}
		d, _ := strconv.ParseUint(g, 10, 64)
		if t.Index > (1<<64-1-d)/1000 {
			return t, errors.New("tile index overflows")
		}
		t.Index = t.Index*1000 + d
	}
	if len(groups) > 1 && strings.HasPrefix(groups[0], "x000") {
		return t, errors.New("tile index has a leading zero group")
	}
	return t, nil
}

// MarshalEntryBundle encodes entries as a tlog-tiles entry bundle: each entry
// prefixed by its length as a big-endian uint16.
func MarshalEntryBundle(entries [][]byte) ([]byte, error) {
	n := 0
	for i, e := range entries {
		if len(e) > MaxEntrySize {
			return nil, fmt.Errorf("entry %d is %d bytes, at most %d fit in a bundle", i, len(e), MaxEntrySize)
		}
		n += 2 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

// ParseEntryBundle decodes an entry bundle and checks that it holds exactly
// want entries and nothing after them.
func ParseEntryBundle(data []byte, want int) ([][]byte, error) {
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("entry bundle is truncated after %d entries", len(entries))
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, fmt.Errorf("entry %d is truncated: %d of %d bytes", len(entries), len(data), n)
		}
		entries = append(entries, data[:n:n])
		data = data[n:]
		if len(entries) > want {
			return nil, fmt.Errorf("entry bundle holds more than %d entries", want)
		}
	}
	if len(entries) != want {
		return nil, fmt.Errorf("entry bundle holds %d entries, want %d", len(entries), want)
	}
	return entries, nil
}
