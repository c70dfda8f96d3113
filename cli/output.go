package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/probity/probity"
)

// isTerminal reports whether w is a terminal, so colour and progress are
// shown to people and never written into files or pipes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// style wraps text in ANSI colour codes when enabled. NO_COLOR is honoured.
type style struct{ on bool }

func newStyle(w io.Writer) style {
	return style{on: isTerminal(w) && os.Getenv("NO_COLOR") == ""}
}

func (s style) wrap(code, text string) string {
	if !s.on {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(t string) string   { return s.wrap("1", t) }
func (s style) dim(t string) string    { return s.wrap("2", t) }
func (s style) red(t string) string    { return s.wrap("31", t) }
func (s style) green(t string) string  { return s.wrap("32", t) }
func (s style) yellow(t string) string { return s.wrap("33", t) }
func (s style) blue(t string) string   { return s.wrap("34", t) }
func (s style) cyan(t string) string   { return s.wrap("36", t) }

// checkFormat validates a --format value against the allowed names.
func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return withExit(ExitUsage, fmt.Errorf("unknown --format %q (want %s)", got, strings.Join(allowed, ", ")))
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// inputError turns an ingest error into exit code 2 with the bad files
// listed, after the good ones have been processed.
func inputError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return withExit(ExitUsage, err)
}

// oneLine squeezes whitespace and cuts s to at most n runes, for timelines.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if n > 0 && len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// labelMap returns the labels that are set, as a map for JSON and text.
func labelMap(l probity.Labels) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(l)
	_ = json.Unmarshal(b, &m)
	return m
}
