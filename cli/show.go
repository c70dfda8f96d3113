package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

// errStop ends a streaming read early once the wanted trace was printed.
var errStop = errors.New("stop")

func newShowCmd(e *env) *cobra.Command {
	var traceID, from string
	var width int
	var full bool
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print one trace as a readable timeline",
		Long: `Show prints one trace as a timeline: each step with its source position (the
index that findings point at), its kind, the agent that acted, and its
content. Nested agents are indented under the step that handed off to them;
failed tool results are marked. Colour is used only on a terminal (NO_COLOR
turns it off).

A file with several traces (a τ-bench file holds 200 runs) shows the first
unless --trace names one; "probity inspect FILE" lists their ids.`,
		Example: `  probity show examples/refund-cascade.json
  probity show ../shared/data/tau-bench/gpt-4o-airline.json --trace task-5/trial-2
  probity show --full examples/support-billing.otlp.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if full {
				width = 0
			}
			found := false
			var ids []string
			err := ingest.Each(e.ctx, args, ingest.Options{Format: from, Stdin: e.stdin}, func(t *probity.Trace) error {
				if traceID != "" && t.ID != traceID {
					if len(ids) < 10 {
						ids = append(ids, t.ID)
					}
					return nil
				}
				found = true
				printTimeline(e.stdout, newStyle(e.stdout), t, width)
				return errStop
			})
			if errors.Is(err, errStop) {
				err = nil
			}
			if err != nil {
				return inputError(err)
			}
			if !found {
				if traceID == "" {
					return withExit(ExitUsage, fmt.Errorf("%s: no traces", args[0]))
				}
				hint := ""
				if len(ids) > 0 {
					hint = " (traces include: " + strings.Join(ids, ", ") + ")"
				}
				return withExit(ExitUsage, &probity.Error{Code: probity.ENOTFOUND, File: args[0],
					Message: fmt.Sprintf("no trace %q%s", traceID, hint)})
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&traceID, "trace", "", "the id of the trace to show (see 'probity inspect')")
	cmd.Flags().IntVar(&width, "width", 160, "cut each step's text to this many characters")
	cmd.Flags().BoolVar(&full, "full", false, "print every step's text in full")
	addFromFlag(cmd, &from)
	return cmd
}

// printTimeline writes t as one line per step (or full text when width is 0).
func printTimeline(w io.Writer, st style, t *probity.Trace, width int) {
	fmt.Fprintf(w, "%s  %s\n", st.bold("trace "+t.ID), st.dim(fmt.Sprintf("%s (%s, %d steps)", t.Source, t.Format, len(t.Steps))))
	if t.Task != "" {
		fmt.Fprintf(w, "task    %s\n", oneLine(t.Task, width))
	}
	if !t.Labels.Empty() {
		fmt.Fprintf(w, "labels  %s\n", labelsLine(labelMap(t.Labels)))
	}
	fmt.Fprintln(w)
	depth := stepDepths(t)
	t0, last := firstStart(t), time.Duration(-1)
	for i, s := range t.Steps {
		pos := fmt.Sprintf("%6d", s.Pos.Index)
		if s.Pos.Part > 0 {
			pos = fmt.Sprintf("%6s", fmt.Sprintf("%d.%d", s.Pos.Index, s.Pos.Part))
		}
		indent := strings.Repeat("  ", depth[i])
		kind := fmt.Sprintf("%-11s", s.Kind)
		switch s.Kind {
		case probity.KindUser, probity.KindSystem:
			kind = st.blue(kind)
		case probity.KindToolCall:
			kind = st.yellow(kind)
		case probity.KindToolResult, probity.KindRetrieval:
			kind = st.cyan(kind)
		case probity.KindFinal:
			kind = st.green(kind)
		}
		at := ""
		// Print the clock only when it moves, so a burst of steps from one
		// model call does not repeat the same time.
		if !s.Start.IsZero() && !t0.IsZero() && s.Start.Sub(t0) != last {
			last = s.Start.Sub(t0)
			at = st.dim(fmt.Sprintf("  +%.1fs", last.Seconds()))
		}
		actor := fmt.Sprintf("%-12s", oneLine(s.Actor, 12))
		fmt.Fprintf(w, "%s %s%s %s %s%s\n", st.dim(pos), indent, kind, st.dim(actor), stepText(st, s, width), at)
	}
}

// stepText renders the interesting part of a step.
func stepText(st style, s probity.Step, width int) string {
	text := s.Content
	switch {
	case s.Kind == probity.KindToolCall && s.Tool != nil:
		args := string(s.Tool.Args)
		if args == "" {
			args = s.Tool.RawArgs
		}
		text = st.bold(s.Tool.Name) + " " + oneLine(args, width)
		return text
	case s.Kind == probity.KindToolResult:
		prefix := ""
		if s.Tool != nil && s.Tool.Name != "" {
			prefix = s.Tool.Name + " → "
		}
		if s.Error != nil {
			prefix = st.red("ERROR ") + prefix
		}
		return prefix + flatten(text, width)
	case s.Model != nil && s.Model.Name != "" && s.Kind == probity.KindAssistant:
		return flatten(text, width) + st.dim(" ["+s.Model.Name+"]")
	}
	return flatten(text, width)
}

func flatten(s string, width int) string {
	if width == 0 {
		return strings.TrimSpace(s)
	}
	return oneLine(s, width)
}

// stepDepths returns the nesting depth of each step, following ParentID
// links; a guard stops at the number of steps so cyclic links cannot hang.
func stepDepths(t *probity.Trace) []int {
	byID := map[string]int{}
	for i, s := range t.Steps {
		if s.ID != "" {
			if _, dup := byID[s.ID]; !dup {
				byID[s.ID] = i
			}
		}
	}
	out := make([]int, len(t.Steps))
	for i, s := range t.Steps {
		d, p := 0, s.ParentID
		for p != "" && d < len(t.Steps) {
			j, ok := byID[p]
			if !ok || j == i {
				break
			}
			d++
			p = t.Steps[j].ParentID
		}
		if d > 8 {
			d = 8
		}
		out[i] = d
	}
	return out
}

func firstStart(t *probity.Trace) (t0 time.Time) {
	for _, s := range t.Steps {
		if !s.Start.IsZero() && (t0.IsZero() || s.Start.Before(t0)) {
			t0 = s.Start
		}
	}
	return t0
}
