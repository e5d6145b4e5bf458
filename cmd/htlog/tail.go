package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

func init() {
	register("tail", subcommand{
		summary: "follow new entries, verifying every checkpoint and entry",
		run:     tailCmd,
	})
}

const tailHelp = `
Follows the log: every --interval it fetches the checkpoint, verifies it
against --policy and proves it consistent with the previous one from the
log's hash tiles (--state remembers the last one across runs), then reads the
new entries from the entry bundles, checks each against the verified tree
and prints one line per entry (index, event id, time, kind, organisation).
Stops on a split view (evidence written, exit 8) or any verification
failure (exit 5); runs until interrupted, or until --count entries.`

func tailCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tail", "--policy FILE [--log URL] [--from N] [--state FILE] [--json]", tailHelp, stderr)
	lf := addLogFlags(fs, true)
	from := fs.Int64("from", -1, "first index to print (default: only entries added from now on)")
	state := fs.String("state", "", "file remembering the newest verified checkpoint")
	evidence := fs.String("evidence", "", "where to write split-view evidence")
	interval := fs.Duration("interval", 2*time.Second, "how often to poll the checkpoint")
	count := fs.Int("count", 0, "stop after this many entries (0: never)")
	asJSON := fs.Bool("json", false, `print {"index","event_id","occurred_at","kind","org"} per entry`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"tail takes no arguments"}
	}
	c, err := lf.client(true)
	if err != nil {
		return err
	}
	k, err := client.NewKeeper(c, *state)
	if err != nil {
		return classify(err)
	}
	stop, cancelStop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancelStop()
	next := uint64(0)
	if *from >= 0 {
		next = uint64(*from)
	}
	started, printed := false, 0
	for {
		ctx, cancel := context.WithTimeout(stop, *lf.timeout)
		cp, err := k.Update(ctx)
		if err == nil {
			if !started && *from < 0 {
				next = cp.Size
			}
			started = true
			for next < cp.Size && err == nil {
				var es [][]byte
				end := min(cp.Size, next+256, next+uint64(max(*count-printed, 0)))
				if *count == 0 {
					end = min(cp.Size, next+256)
				}
				if es, err = c.Entries(ctx, next, end, cp); err == nil {
					for _, e := range es {
						printEntry(stdout, next, e, *asJSON)
						next++
						printed++
					}
				}
				if *count > 0 && printed >= *count {
					cancel()
					return nil
				}
			}
		}
		cancel()
		if stop.Err() != nil {
			return nil
		}
		if err != nil {
			return writeFork(err, *evidence, stderr)
		}
		select {
		case <-stop.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

func printEntry(w io.Writer, index uint64, entry []byte, asJSON bool) {
	out := map[string]any{"index": index}
	if env, err := event.ParseEnvelope(entry); err == nil {
		out["event_id"] = env.ID()
		if ev, err := event.ParseEvent(env.Payload); err == nil {
			out["occurred_at"], out["kind"], out["org"] = ev.OccurredAt, ev.Kind, ev.Submitter.Org
		}
	}
	if asJSON {
		printJSON(w, out)
		return
	}
	fmt.Fprintf(w, "%d\t%v\t%v\t%v\t%v\n", index, out["event_id"], out["occurred_at"], out["kind"], out["org"])
}
