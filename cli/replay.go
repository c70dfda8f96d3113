package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/probity/probity/proxy"
	"github.com/spf13/cobra"
)

func newReplayCmd(e *env) *cobra.Command {
	var f proxyFlags
	var forkAt int
	var upstream, record string
	cmd := &cobra.Command{
		Use:   "replay DIR|FILE [--listen 127.0.0.1:PORT] [--fork-at N --upstream URL]",
		Short: "Answer an agent from a recording, hermetically, and show where it diverges",
		Long: `Replay serves a recording as an OpenAI- and Anthropic-compatible API. Point
the agent's base URL at it and run it again: every call is answered from the
recording, byte for byte, streams as streams, and no upstream is contacted.

Requests are matched after normalisation: headers, credentials, and volatile
body fields (` + "`user`, `metadata`, `stream_options`, `store`, ..." + `) are ignored.
A request that was not recorded gets HTTP 409 with a JSON body naming the
first point of divergence: the run, the call, the message, the field (a JSON
path such as $.body.messages[3].content), and the recorded and received
values. The same is logged on stderr. This lets you step through a
production failure deterministically.

DIR may be a recording directory written by 'probity proxy --record', a
directory of cassettes, one cassette file, or a vcrpy YAML cassette. With
several runs, a request picks its run by X-Probity-Run or a
/_probity/run/<run>/ base URL; otherwise the first matching run answers.

--fork-at N answers the first N calls from the recording and forwards the
rest to --upstream (recorded with --record), to study how a run goes on from
a given step.`,
		Example: `  probity replay rec/ --listen 127.0.0.1:8081
  OPENAI_BASE_URL=http://127.0.0.1:8081/v1 python my_agent.py

  probity replay rec/cassettes/run-0003.json --fork-at 4 --upstream https://api.openai.com --record forked/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log := f.logger(e)
			// Skipped files are always said, even with -q.
			warn := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			cs, err := proxy.Open(args[0], warn)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			opts := proxy.ReplayOptions{Recordings: cs, Logger: log, IgnoreFields: f.redactFields}
			var fork *proxy.Proxy
			if forkAt > 0 {
				if upstream == "" {
					return withExit(ExitUsage, fmt.Errorf("--fork-at needs --upstream"))
				}
				fork, err = proxy.New(f.options(upstream, record, log))
				if err != nil {
					return withExit(ExitUsage, err)
				}
				opts.ForkAt, opts.Fork = forkAt, fork
			} else if upstream != "" || record != "" {
				return withExit(ExitUsage, fmt.Errorf("--upstream and --record only apply with --fork-at"))
			}
			rp, err := proxy.NewReplayer(opts)
			if err != nil {
				return withExit(ExitUsage, err)
			}
			ln, err := f.open()
			if err != nil {
				return err
			}
			calls := 0
			for _, c := range cs {
				calls += c.Len()
			}
			base := "http://" + ln.Addr().String()
			fmt.Fprintf(e.stderr, "probity replay: %d runs, %d calls from %s on %s\n", len(cs), calls, args[0], base)
			fmt.Fprintf(e.stderr, "  OPENAI_BASE_URL=%s/v1  ANTHROPIC_BASE_URL=%s\n", base, base)
			err = proxy.Serve(e.ctx, ln, rp)
			if fork != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				fork.Close(ctx)
			}
			fmt.Fprintf(e.stderr, "probity replay: answered %d calls from the recording\n", rp.Served())
			return err
		},
	}
	cmd.Flags().IntVar(&forkAt, "fork-at", 0, "answer only the first N calls from the recording, forward the rest to --upstream")
	cmd.Flags().StringVar(&upstream, "upstream", "", "model API to forward to after --fork-at calls")
	cmd.Flags().StringVar(&record, "record", "", "record the forwarded calls into this directory")
	f.addListen(cmd, "127.0.0.1:8080")
	f.addUpstream(cmd)
	return cmd
}
