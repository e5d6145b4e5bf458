// Command htlog-hammer is a headless load generator for htlog. It signs
// realistic events of all four kinds (the schema examples, with fresh
// pseudonymous tags and times) as many submitters, sends them to
// POST /add-event at a target rate, and reports accepted events per second,
// latency percentiles (to the answer: the promise in async mode, the
// cosigned receipt in sync mode; and in async mode, for a sample, to the
// first published cosigned checkpoint that includes the event), the published
// rate (how fast the published checkpoint grew during the load) and errors.
// With --raw it is the baseline instead: QueueLeaf of same-sized leaves
// straight to Trillian's log server, on a fresh tree, with no htlog in the
// path. With --tessera it drives the peer a user would pick instead of
// htlog: Tessera's conformance personality (POST /add of random leaves of
// --leaf-size bytes), timed the same way. With --read it reads from the log
// at --log instead (htlog-server, or a file server of a Tessera POSIX log):
// its checkpoint, full tiles, full entry bundles or inclusion proofs.
//
//	htlog-hammer --submitter npi:1900000013=var/keys/hammer1.key --duration 20s --mode async
//	htlog-hammer --raw --trillian 127.0.0.1:8090 --duration 20s
//	htlog-hammer --tessera http://127.0.0.1:2024 --leaf-size 2200 --workers 256 --duration 20s
//	htlog-hammer --read tile --log http://127.0.0.1:8080 --duration 10s
//
// It exits 1 if more than --max-errors of the requests failed, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
)

// result is one request's outcome.
type result struct {
	status  int // HTTP status, or 0 for a transport error
	latency time.Duration
}

// Report is the hammer's summary (also printed as JSON with --json).
type Report struct {
	Mode        string         `json:"mode"`
	Duration    float64        `json:"duration_s"`
	Sent        int            `json:"sent"`
	Accepted    int            `json:"accepted"`
	PerSecond   float64        `json:"accepted_per_s"`
	P50ms       float64        `json:"p50_ms"`
	P95ms       float64        `json:"p95_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	Errors      map[string]int `json:"errors"`
	ErrorRate   float64        `json:"error_rate"`
	TargetRate  float64        `json:"target_rate"`
	Concurrency int            `json:"concurrency"`
	// Async mode: for a sample of accepted events, the time from submission
	// until the log published a (cosigned) checkpoint including them.
	MergeSamples int     `json:"to_checkpoint_samples,omitempty"`
	MergeMissed  int     `json:"to_checkpoint_missed,omitempty"`
	MergeP50ms   float64 `json:"to_checkpoint_p50_ms,omitempty"`
	MergeP95ms   float64 `json:"to_checkpoint_p95_ms,omitempty"`
	MergeP99ms   float64 `json:"to_checkpoint_p99_ms,omitempty"`
	// Writes: the published checkpoint's size when the load started and
	// ended, and its growth per second in between.
	PublishedFrom      uint64  `json:"published_from,omitempty"`
	PublishedTo        uint64  `json:"published_to,omitempty"`
	PublishedPerSecond float64 `json:"published_per_s,omitempty"`

	start, end time.Time // when the load started and ended
}

func main() {
	fs := pflag.NewFlagSet("htlog-hammer", pflag.ContinueOnError)
	logURL := fs.String("log", "http://127.0.0.1:8080", "htlog-server base URL")
	submitters := fs.StringArray("submitter", nil, "ORG=KEYFILE of a registered submitter (repeat for many)")
	mode := fs.String("mode", "async", "async: ack after durable queueing (202 + promise); sync: wait for the cosigned receipt")
	rate := fs.Float64("rate", 0, "target requests per second in total (0: as fast as the workers go)")
	duration := fs.Duration("duration", 20*time.Second, "how long to send")
	workers := fs.Int("workers", 64, "concurrent requests in flight")
	raw := fs.Bool("raw", false, "baseline: QueueLeaf straight to Trillian instead of htlog")
	tessera := fs.String("tessera", "", "drive the Tessera conformance personality at this base URL (POST /add of --leaf-size random bytes) instead of htlog")
	read := fs.String("read", "", "read from --log instead of writing: checkpoint, tile (full level-0 hash tiles), entries (full entry bundles) or inclusion (proofs, htlog only)")
	count := fs.Int("count", 0, "stop after this many requests (0: run for --duration)")
	examples := fs.String("examples", "schemas/examples", "folder of example event bodies (<kind>/valid-*.json)")
	trillianAddr := fs.String("trillian", "127.0.0.1:8090", "Trillian log server gRPC address (--raw)")
	treeID := fs.Int64("tree-id", 0, "--raw: queue to this existing tree instead of a fresh one")
	leafSize := fs.Int("leaf-size", 1500, "leaf size in bytes for --raw and --tessera (about an htlog envelope)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pregenerate := fs.Int("pregenerate", 0, "sign (or, with --raw, make) this many requests before the clock starts, so the load generator's own work does not compete with the system under test; later requests are made on the fly")
	maxErrors := fs.Float64("max-errors", 0.01, "fail (exit 1) if more than this fraction of requests fail")
	mergeSample := fs.Int("merge-sample", 10, "async and --tessera: time one accepted add in this many from its acknowledgement to the first published (cosigned) checkpoint that includes it (0: off)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var send func(ctx context.Context, worker, i int) result
	var merge *mergeWatch
	label := "htlog-" + *mode
	switch {
	case *read != "":
		r, err := newReadTarget(ctx, *logURL, *read)
		if err != nil {
			fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
			os.Exit(1)
		}
		send, label = r.send, "read-"+*read
	case *raw:
		r, err := newRawTarget(ctx, *trillianAddr, *leafSize, *treeID)
		if err != nil {
			fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
			os.Exit(1)
		}
		defer r.close()
		r.ready = pregenerated(*pregenerate, func(int) ([]byte, error) { return randomLeaf(r.leafSize), nil })
		send, label = r.send, "trillian-raw"
	case *tessera != "":
		t := newTesseraTarget(*tessera, *leafSize)
		t.ready = pregenerated(*pregenerate, func(int) ([]byte, error) { return randomLeaf(t.leafSize), nil })
		t.merge = &mergeWatch{url: t.url, client: t.client, every: *mergeSample, poll: 50 * time.Millisecond}
		send, merge, label = t.send, t.merge, "tessera"
	default:
		if *mode != "async" && *mode != "sync" {
			fmt.Fprintln(os.Stderr, "htlog-hammer: --mode must be async or sync")
			os.Exit(2)
		}
		h, err := newHTLogTarget(*logURL, *submitters, *examples, *mode == "async")
		if err != nil {
			fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
			os.Exit(2)
		}
		if err := h.prime(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
			os.Exit(1)
		}
		h.ready = pregenerated(*pregenerate, h.envelope)
		send = h.send
		// The watch times samples in async mode only (a sync answer is the
		// receipt), and measures the published rate in both.
		every := 0
		if *mode == "async" {
			every = *mergeSample
		}
		h.merge = &mergeWatch{url: h.url, client: h.client, every: every, poll: 50 * time.Millisecond}
		merge = h.merge
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if merge != nil {
		merge.observe(ctx) // the size when the load starts
		go merge.run(watchCtx)
	}
	rep := hammerN(ctx, send, *workers, *rate, *duration, *count)
	rep.Mode = label
	if merge != nil {
		merge.observe(ctx) // the size when the load ends
		rep.PublishedFrom, rep.PublishedTo, rep.PublishedPerSecond = merge.published(rep.start, rep.end)
		if merge.every > 0 {
			waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			rep.setMerge(merge.latencies(waitCtx))
			cancel()
		}
	}
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(rep)
	} else {
		toCheckpoint := ""
		if rep.MergeSamples > 0 {
			toCheckpoint = fmt.Sprintf("  to checkpoint p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  (%d sampled, %d unplaced)",
				rep.MergeP50ms, rep.MergeP95ms, rep.MergeP99ms, rep.MergeSamples, rep.MergeMissed)
		}
		if merge != nil {
			toCheckpoint += fmt.Sprintf("  published %.1f/s (checkpoint %d -> %d)", rep.PublishedPerSecond, rep.PublishedFrom, rep.PublishedTo)
		}
		fmt.Printf("%-14s %8.0f accepted/s  (%d of %d in %.1fs, %d workers)  latency p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms%s  errors %v\n",
			rep.Mode, rep.PerSecond, rep.Accepted, rep.Sent, rep.Duration, rep.Concurrency, rep.P50ms, rep.P95ms, rep.P99ms, rep.MaxMs, toCheckpoint, rep.Errors)
	}
	if rep.ErrorRate > *maxErrors {
		fmt.Fprintf(os.Stderr, "htlog-hammer: %.2f%% of requests failed (limit %.2f%%)\n", 100*rep.ErrorRate, 100**maxErrors)
		os.Exit(1)
	}
}

// setMerge records the sampled times to a published checkpoint.
func (r *Report) setMerge(lat []time.Duration, missed int) {
	r.MergeSamples, r.MergeMissed = len(lat), missed
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	r.MergeP50ms, r.MergeP95ms, r.MergeP99ms = ms(0.50), ms(0.95), ms(0.99)
}

// pregenerated makes n requests with gen (request i is gen(i+1), as send
// numbers them from 1), on every core.
func pregenerated(n int, gen func(int) ([]byte, error)) [][]byte {
	out := make([][]byte, n)
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += procs {
				b, err := gen(i + 1)
				if err != nil {
					fmt.Fprintln(os.Stderr, "htlog-hammer:", err)
					os.Exit(1)
				}
				out[i] = b
			}
		}()
	}
	wg.Wait()
	return out
}

// hammer runs send from workers goroutines for d, paced to rate if > 0.
func hammer(ctx context.Context, send func(context.Context, int, int) result, workers int, rate float64, d time.Duration) Report {
	return hammerN(ctx, send, workers, rate, d, 0)
}

// hammerN is hammer that also stops after n requests if n > 0.
func hammerN(ctx context.Context, send func(context.Context, int, int) result, workers int, rate float64, d time.Duration, n int) Report {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	var mu sync.Mutex
	var results []result
	var seq atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []result
			for {
				if tick != nil {
					select {
					case <-ctx.Done():
					case <-tick:
					}
				}
				if ctx.Err() != nil {
					break
				}
				i := int(seq.Add(1))
				if n > 0 && i > n {
					break
				}
				local = append(local, send(context.WithoutCancel(ctx), w, i))
			}
			mu.Lock()
			results = append(results, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	end := time.Now()
	elapsed := end.Sub(start)
	rep := Report{Duration: elapsed.Seconds(), Sent: len(results), Errors: map[string]int{}, TargetRate: rate, Concurrency: workers,
		start: start, end: end}
	var lat []time.Duration
	for _, r := range results {
		if r.status == 200 || r.status == 202 {
			rep.Accepted++
			lat = append(lat, r.latency)
		} else {
			rep.Errors[fmt.Sprint(r.status)]++
		}
	}
	rep.PerSecond = float64(rep.Accepted) / elapsed.Seconds()
	if rep.Sent > 0 {
		rep.ErrorRate = float64(rep.Sent-rep.Accepted) / float64(rep.Sent)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		rep.P50ms, rep.P95ms, rep.P99ms, rep.MaxMs = ms(0.50), ms(0.95), ms(0.99), ms(1)
	}
	return rep
}
