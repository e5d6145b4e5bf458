package witness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/htlog/htlog/c2sp"
)

// maxFetchSize bounds anything the witness downloads from a log.
const maxFetchSize = 1 << 20

// fetcher returns a TileFetcher (and checkpoint fetcher) for a log's
// tlog-tiles prefix.
func fetcher(client *http.Client, prefix string) c2sp.TileFetcher {
	prefix = strings.TrimSuffix(prefix, "/")
	return func(ctx context.Context, path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, prefix+"/"+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("couldn't fetch %s: %w", path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("couldn't fetch %s: %s", path, resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchSize+1))
		if err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", path, err)
		}
		if len(b) > maxFetchSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFetchSize)
		}
		return b, nil
	}
}
