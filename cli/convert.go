package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/otlp"
)

// Output formats of convert.
const (
	convertOTLP  = "otlp-json"
	convertJSONL = "jsonl"
)

func newConvertCmd(e *env) *cobra.Command {
	var to, out, from string
	cmd := &cobra.Command{
		Use:   "convert FILES...",
		Short: "Convert traces of any format to OTLP/JSON (or the Probity model as JSON Lines)",
		Long: `Convert reads agent traces in any format Probity knows and writes them in one
format, so you can look at them in the tools you already run.

--to otlp-json (the default) writes one OTLP/JSON ExportTraceServiceRequest on
a single line, following the OpenTelemetry GenAI semantic conventions: one span
per step under a root span per trace; a hand-off to a sub-agent becomes an
invoke_agent span enclosing the sub-agent's steps. Ids are hex, as the OTLP/JSON
specification requires, and are derived from the trace and the step's position,
so converting the same input twice gives the same bytes. Send the file to any
OTLP/HTTP endpoint that accepts JSON (Jaeger, Tempo, Phoenix, an OpenTelemetry
Collector):

  curl -H 'Content-Type: application/json' --data-binary @trace.otlp.json \
    http://localhost:4318/v1/traces

Every span also carries probity.* attributes, so reading the file back with
Probity gives the same trace: same steps, labels and expected actions, and the
ORIGINAL source file and message positions, so findings on a converted trace
point at the message in the file the trace first came from.

--to jsonl writes the Probity trace model itself, one trace per line, exactly as
importers produced it. It is meant for debugging an importer or for scripts
(jq); its fields are those of the Go type probity.Trace.

FILES may be files, directories (read recursively) or globs; "-" reads stdin.
Each file's format is detected from its content; --from forces one. Results go
to stdout, or to --out (written in full or not at all). A bad input is reported
on stderr after the good ones are converted, and the exit status is then 2.`,
		Example: `  probity convert examples/refund-cascade.json > refund-cascade.otlp.json
  probity convert --to otlp-json --out airline.otlp.json ../shared/data/tau-bench/gpt-4o-airline.json
  probity convert --to jsonl examples/support-billing.otlp.json | jq -c '.steps[] | [.kind, .actor]'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to != convertOTLP && to != convertJSONL {
				return withExit(ExitUsage, fmt.Errorf("unknown --to %q (want %s or %s)", to, convertOTLP, convertJSONL))
			}
			return runConvert(e, args, to, out, from)
		},
	}
	cmd.Flags().StringVar(&to, "to", convertOTLP, "output format: otlp-json (OTLP/JSON with GenAI attributes) or jsonl (the Probity model, one trace per line)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&from, "from", "", "input format, instead of detecting it: "+strings.Join(ingest.Formats(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("to", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{convertOTLP, convertJSONL}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("from", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return ingest.Formats(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// traceSink receives converted traces.
type traceSink interface {
	Write(*probity.Trace) error
	Close() error
}

type jsonlSink struct{ w io.Writer }

func (s jsonlSink) Write(t *probity.Trace) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode trace %s: %w", t.ID, err)
	}
	_, err = s.w.Write(append(b, '\n'))
	return err
}

func (jsonlSink) Close() error { return nil }

func runConvert(e *env, args []string, to, out, from string) error {
	w := e.stdout
	var tmp *os.File
	if out != "" {
		// Write beside the target and rename at the end, so a failed run
		// never leaves a half-written file where a good one was.
		var err error
		tmp, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
		if err != nil {
			return withExit(ExitUsage, &probity.Error{Code: probity.EINVALID, File: out, Message: "cannot write output", Err: err})
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	var sink traceSink
	if to == convertJSONL {
		sink = jsonlSink{w}
	} else {
		sink = otlp.NewWriter(w)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	n := 0
	progress := isTerminal(e.stderr) // people see progress; logs and pipes do not
	inErr := ingest.Each(e.ctx, args, ingest.Options{Format: from, Logger: log, Stdin: e.stdin}, func(t *probity.Trace) error {
		n++
		if progress && n%50 == 0 {
			fmt.Fprintf(e.stderr, "\rprobity: converted %d traces…", n)
		}
		return sink.Write(t)
	})
	if progress && n >= 50 {
		fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	var fe *ingest.FileErrors
	if inErr != nil && !errors.As(inErr, &fe) {
		var pe *probity.Error
		if errors.As(inErr, &pe) {
			return withExit(ExitUsage, inErr)
		}
		return inErr // a write failure or an interrupt: nothing is kept
	}
	if n > 0 || inErr == nil {
		if err := sink.Close(); err != nil {
			return err
		}
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return err
		}
		if n > 0 || inErr == nil {
			// CreateTemp made the file 0600 (less the umask), and so it
			// stays: converted traces hold conversations.
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			tmp = nil
			fmt.Fprintf(e.stderr, "probity: wrote %d trace%s to %s\n", n, tracesSuffix(n), out)
		}
	}
	if inErr != nil {
		return withExit(ExitUsage, inErr)
	}
	return nil
}

func tracesSuffix(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
