package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

// inspectRecord is the --format json contract of inspect: one object per
// trace per line. Users' scripts rely on these keys; add, never rename.
type inspectRecord struct {
	TraceID     string            `json:"trace_id"`
	Source      string            `json:"source"`
	Format      string            `json:"format"`
	Steps       int               `json:"steps"`
	StepsByKind map[string]int    `json:"steps_by_kind"`
	Tools       []string          `json:"tools"`
	Agents      []string          `json:"agents"`
	Labels      map[string]any    `json:"labels"`
	Task        string            `json:"task,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

func newInspectCmd(e *env) *cobra.Command {
	var format, from string
	var summary, onlyFailing bool
	cmd := &cobra.Command{
		Use:   "inspect FILES...",
		Short: "Summarise traces: steps by kind, tools, agents, outcome labels",
		Long: `Inspect reads agent traces and prints a summary per trace and over all of them:
how many steps of each kind, which tools were called, which agents acted, and
the outcome labels the source carries (τ-bench reward, SWE-bench resolved,
Who&When mistake step).

FILES may be files, directories (read recursively) or globs; "-" reads stdin.
The format of each file is detected from its content; --from forces one.
Bad files are reported on stderr after the good ones are summarised, and the
exit status is then 2; so is input that holds no trace at all (the files
skipped are listed with the reason).

--summary prints only the summary over all traces; --only-failing prints only
the traces whose outcome labels say they failed (τ-bench reward 0, SWE-bench
unresolved, Who&When incorrect or with a mistake step), then the summary.`,
		Example: `  probity inspect examples/
  probity inspect ../shared/data/tau-bench/gpt-4o-airline.json --format json | jq .labels.reward
  probity inspect --from chatlog 'logs/*.jsonl'
  probity inspect --summary ../shared/data/
  probity inspect --only-failing ../shared/data/tau-bench/gpt-4o-airline.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json"); err != nil {
				return err
			}
			if summary && format == "json" {
				return withExit(ExitUsage, errors.New("--summary works with --format text; JSON has one object per trace"))
			}
			opts := ingest.Options{Format: from, Stdin: e.stdin}
			sum := newInspectSummary()
			st := newStyle(e.stdout)
			err := ingest.Each(e.ctx, args, opts, func(t *probity.Trace) error {
				rec := inspectOf(t)
				sum.add(t, rec)
				if summary || (onlyFailing && !labelledFailure(t.Labels)) {
					return nil
				}
				sum.shown++
				if format == "json" {
					return writeJSONLine(e.stdout, rec)
				}
				printInspect(e.stdout, st, rec)
				return nil
			})
			if format == "text" && (sum.traces > 0 || err == nil) {
				sum.print(e.stdout, st)
			}
			return inputError(err)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (one object per trace per line)")
	cmd.Flags().BoolVar(&summary, "summary", false, "print only the summary over all traces")
	cmd.Flags().BoolVar(&onlyFailing, "only-failing", false, "print only the traces whose outcome labels say they failed")
	addFromFlag(cmd, &from)
	return cmd
}

// labelledFailure reports whether the source's own labels say the run
// failed. It only filters what inspect prints: labels never feed a
// detector.
func labelledFailure(l probity.Labels) bool {
	return (l.Reward != nil && *l.Reward < 1) || (l.Resolved != nil && !*l.Resolved) ||
		(l.IsCorrect != nil && !*l.IsCorrect) || l.MistakeStep != nil
}

// addFromFlag adds --from, which forces an input format instead of
// detecting it from the content.
func addFromFlag(cmd *cobra.Command, from *string) {
	cmd.Flags().StringVar(from, "from", "", "input format, instead of detecting it: "+strings.Join(ingest.Formats(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("from", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return ingest.Formats(), cobra.ShellCompDirectiveNoFileComp
	})
}

func inspectOf(t *probity.Trace) inspectRecord {
	kinds := map[string]int{}
	for k, n := range t.CountKinds() {
		kinds[string(k)] = n
	}
	tools, agents := t.Tools(), t.Actors()
	if tools == nil {
		tools = []string{}
	}
	if agents == nil {
		agents = []string{}
	}
	return inspectRecord{
		TraceID: t.ID, Source: t.Source, Format: t.Format, Steps: len(t.Steps),
		StepsByKind: kinds, Tools: tools, Agents: agents, Labels: labelMap(t.Labels),
		Task: t.Task, Meta: t.Meta,
	}
}

func kindsLine(kinds map[string]int) string {
	var parts []string
	for _, k := range probity.Kinds {
		if n := kinds[string(k)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " · ")
}

func labelsLine(m map[string]any) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%s", k, oneLine(fmt.Sprint(m[k]), 40)))
	}
	return strings.Join(parts, " ")
}

func printInspect(w io.Writer, st style, r inspectRecord) {
	fmt.Fprintf(w, "%s  %s  %s\n", st.bold(r.TraceID), st.dim(r.Source), st.dim(fmt.Sprintf("(%s, %d steps)", r.Format, r.Steps)))
	fmt.Fprintf(w, "  kinds   %s\n", kindsLine(r.StepsByKind))
	if len(r.Tools) > 0 {
		fmt.Fprintf(w, "  tools   %s\n", strings.Join(r.Tools, ", "))
	}
	fmt.Fprintf(w, "  agents  %s\n", strings.Join(r.Agents, ", "))
	fmt.Fprintf(w, "  labels  %s\n", labelsLine(r.Labels))
}

// inspectSummary accumulates the overall numbers without keeping traces, so
// memory stays flat however many traces stream past.
type inspectSummary struct {
	traces, steps int
	// shown counts the traces printed before the summary (none with
	// --summary): the summary is set apart from them by a blank line.
	shown   int
	files   map[string]bool
	formats map[string]int
	kinds   map[string]int
	tools   map[string]int
	labels  map[string]map[string]int // label -> value -> traces
}

func newInspectSummary() *inspectSummary {
	return &inspectSummary{files: map[string]bool{}, formats: map[string]int{}, kinds: map[string]int{},
		tools: map[string]int{}, labels: map[string]map[string]int{}}
}

func (s *inspectSummary) add(t *probity.Trace, r inspectRecord) {
	s.traces++
	s.steps += r.Steps
	s.files[r.Source] = true
	s.formats[r.Format]++
	for k, n := range r.StepsByKind {
		s.kinds[k] += n
	}
	for _, st := range t.Steps {
		if st.Kind == probity.KindToolCall && st.Tool != nil {
			s.tools[st.Tool.Name]++
		}
	}
	for k, v := range r.Labels {
		switch k {
		case "mistake_reason", "ground_truth", "mistake_agent":
			continue // free text: counting distinct values says nothing
		}
		if s.labels[k] == nil {
			s.labels[k] = map[string]int{}
		}
		s.labels[k][fmt.Sprint(v)]++
	}
}

func (s *inspectSummary) print(w io.Writer, st style) {
	if s.traces == 0 {
		fmt.Fprintln(w, "no traces")
		return
	}
	if s.shown > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s\n", st.bold(fmt.Sprintf("%d %s in %d %s, %d steps", s.traces, plural(s.traces, "trace", "traces"),
		len(s.files), plural(len(s.files), "file", "files"), s.steps)))
	fmt.Fprintf(w, "  formats %s\n", countsLine(s.formats, 0))
	fmt.Fprintf(w, "  kinds   %s\n", kindsLine(s.kinds))
	if len(s.tools) > 0 {
		fmt.Fprintf(w, "  tools   %s\n", countsLine(s.tools, 12))
	}
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-7s %s\n", k, countsLine(s.labels[k], 8))
	}
}

// countsLine prints "a 3 · b 2" sorted by count then name, at most max
// entries (0: all) and a "+N more" tail.
func countsLine(m map[string]int, max int) string {
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range m {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool {
		if xs[i].v != xs[j].v {
			return xs[i].v > xs[j].v
		}
		return xs[i].k < xs[j].k
	})
	var parts []string
	for i, x := range xs {
		if max > 0 && i == max {
			parts = append(parts, fmt.Sprintf("+%d more", len(xs)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.k, x.v))
	}
	return strings.Join(parts, " · ")
}
