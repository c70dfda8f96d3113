package drill

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
)

// TakeOptions configure Take.
type TakeOptions struct {
	// In is where answers are typed; Out is the screen.
	In  io.Reader
	Out io.Writer
	// Render prints a trace the way `probity show` does; the CLI passes its
	// own timeline so a drill looks exactly like show.
	Render func(w io.Writer, t *probity.Trace)
	// PageLines is how many lines of a trace one page shows (0 means 20).
	PageLines int
	// Answers, when set, are used instead of asking (scripted use).
	Answers map[string]Answer
	// Now is the clock answers are timed with; nil means time.Now.
	Now func() time.Time
}

// TakeResult is what a run of Take produced.
type TakeResult struct {
	// Answers are the answers given, by drill id (for `drill grade`).
	Answers map[string]Answer
	// Seconds is the time each drill took to answer.
	Seconds map[string]float64
	// Graded is nil when the set has no key.
	Graded *Result
}

// errQuit ends a drill session early: the input ran out or the taker
// typed "quit".
var errQuit = errors.New("quit")

// Take runs a drill set in a terminal: for each drill it shows the trace
// (paged: Enter for the next page, q to stop paging), asks the questions,
// times the answers, and, when the set has its key, explains the right
// answer with the evidence (Probity's findings and the planted change as a
// diff). At the end it prints the score by skill. With o.Answers it asks
// nothing and explains each drill against the given answers.
func Take(ctx context.Context, set *Set, o TakeOptions) (*TakeResult, error) {
	if o.PageLines <= 0 {
		o.PageLines = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Answers != nil && set.Key == nil {
		return nil, &probity.Error{Code: probity.EINVALID, Message: "--answers needs the set's key.json to explain them"}
	}
	if o.Answers != nil {
		if _, err := Grade(set.Key, o.Answers); err != nil {
			return nil, err
		}
	}
	tk := &taker{o: o, in: bufio.NewReader(o.In), w: o.Out}
	res := &TakeResult{Answers: map[string]Answer{}, Seconds: map[string]float64{}}
	total := time.Duration(0)
	scripted := o.Answers != nil
	fmt.Fprintf(tk.w, "Drill set: %d drills, easiest first. Type an answer and Enter; Enter alone skips a question; \"quit\" stops.\n", len(set.Drills))
	quit := false
	for i, d := range set.Drills {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(tk.w, "\n══ Drill %s (%d of %d, %s) ══\n", d.ID, i+1, len(set.Drills), d.Difficulty)
		fmt.Fprintln(tk.w, d.Prompt)
		var a Answer
		if scripted {
			a = o.Answers[d.ID]
		} else {
			start := o.Now()
			var err error
			a, err = tk.run(d)
			el := o.Now().Sub(start)
			total += el
			res.Seconds[d.ID] = el.Seconds()
			if err != nil {
				quit = true
			}
			if !quit || a != (Answer{}) {
				fmt.Fprintf(tk.w, "(answered in %s)\n", el.Round(time.Second))
			}
		}
		if a != (Answer{}) || scripted {
			res.Answers[d.ID] = a
		}
		if set.Key != nil {
			e, _ := set.Key.Entry(d.ID)
			explain(tk.w, e, a)
		}
		if quit {
			fmt.Fprintln(tk.w, "\nStopped; the drills not reached score zero.")
			break
		}
		if !scripted && set.Key != nil && i+1 < len(set.Drills) {
			fmt.Fprint(tk.w, "\n[Enter] next drill ")
			if l, err := tk.line(); err != nil || l == "quit" {
				fmt.Fprintln(tk.w, "\nStopped; the drills not reached score zero.")
				break
			}
		}
	}
	if set.Key == nil {
		fmt.Fprintln(tk.w, "\nThis set has no key.json: save the answers (--save) and grade them with 'probity drill grade'.")
		return res, nil
	}
	r, err := Grade(set.Key, res.Answers)
	if err != nil {
		return nil, err
	}
	res.Graded = r
	fmt.Fprintf(tk.w, "\n══ Score %s of %s ══\n", num(r.Score), num(r.Max))
	for _, s := range Skills {
		if v := r.BySkill[s]; v[1] > 0 {
			fmt.Fprintf(tk.w, "  %-9s %s of %s\n", s, num(v[0]), num(v[1]))
		}
	}
	if total > 0 {
		fmt.Fprintf(tk.w, "  time      %s\n", total.Round(time.Second))
	}
	return res, nil
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

type taker struct {
	o  TakeOptions
	in *bufio.Reader
	w  io.Writer
}

// line reads one typed line; a line "quit" or the end of input ends the
// session.
func (tk *taker) line() (string, error) {
	s, err := tk.in.ReadString('\n')
	s = strings.TrimSpace(s)
	if err != nil && s == "" {
		return "", errQuit
	}
	if strings.EqualFold(s, "quit") {
		return "", errQuit
	}
	return s, nil
}

// run shows one drill and asks its questions.
func (tk *taker) run(d *Drill) (Answer, error) {
	var a Answer
	if d.Trace != nil && tk.o.Render != nil {
		var buf bytes.Buffer
		tk.o.Render(&buf, d.Trace)
		if err := tk.page(buf.String()); err != nil {
			return a, err
		}
	}
	for _, q := range d.Questions {
		if q.ID != QFailed && a.Failed != nil && !*a.Failed {
			break // nothing failed: the other questions do not apply
		}
		if err := tk.ask(q, &a); err != nil {
			return a, err
		}
	}
	return a, nil
}

// page prints text a page at a time, like more(1).
func (tk *taker) page(text string) error {
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	for at := 0; at < len(lines); at += tk.o.PageLines {
		end := min(at+tk.o.PageLines, len(lines))
		for _, l := range lines[at:end] {
			io.WriteString(tk.w, strings.TrimSuffix(l, "\n")+"\n")
		}
		if end == len(lines) {
			break
		}
		fmt.Fprintf(tk.w, "-- more: lines %d-%d of %d -- [Enter] next page, q: to the questions ", at+1, end, len(lines))
		l, err := tk.line()
		if err != nil {
			return err
		}
		if strings.EqualFold(l, "q") {
			break
		}
	}
	return nil
}

func (tk *taker) ask(q Question, a *Answer) error {
	fmt.Fprintf(tk.w, "\n%s\n", q.Text)
	for i, c := range q.Choices {
		fmt.Fprintf(tk.w, "  %d) %s\n", i+1, c)
	}
	for try := 0; ; try++ {
		fmt.Fprint(tk.w, "> ")
		l, err := tk.line()
		if err != nil {
			return err
		}
		if l == "" {
			return nil // skipped
		}
		if err := parseTyped(q, l, a); err != nil {
			fmt.Fprintf(tk.w, "  ? %v; try again (Enter skips)\n", err)
			continue
		}
		return nil
	}
}

// parseTyped reads a typed answer to q into a.
func parseTyped(q Question, s string, a *Answer) error {
	switch q.ID {
	case QFailed:
		switch strings.ToLower(s) {
		case "y", "yes", "true", "failed":
			a.Failed = ptr(true)
		case "n", "no", "false":
			a.Failed = ptr(false)
		default:
			return errors.New("answer yes or no")
		}
	case QStep:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return errors.New("type a step position, a whole number")
		}
		a.Step = &n
	case QReached:
		steps := []int{}
		if !strings.EqualFold(s, None) {
			for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
				n, err := strconv.Atoi(f)
				if err != nil {
					return fmt.Errorf("%q is not a step position", f)
				}
				steps = append(steps, n)
			}
		}
		a.Reached = &steps
	case QClass, QRule:
		c, err := choose(q.Choices, s)
		if err != nil {
			return err
		}
		if q.ID == QClass {
			a.Class = &c
		} else {
			a.Rule = &c
		}
	case QValue:
		pct := strings.HasSuffix(s, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return errors.New("type a number, like 0.83 or 83%")
		}
		if pct {
			v /= 100
		}
		a.Value = &v
	}
	return nil
}

// choose accepts a choice by its number or its name.
func choose(choices []string, s string) (string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 1 && n <= len(choices) {
			return choices[n-1], nil
		}
		return "", fmt.Errorf("pick 1 to %d", len(choices))
	}
	for _, c := range choices {
		if strings.EqualFold(c, s) {
			return c, nil
		}
	}
	if len(choices) == 0 {
		return s, nil
	}
	return "", errors.New("pick a number or a name from the list")
}

// explain prints the key to one drill against an answer.
func explain(w io.Writer, e *KeyEntry, given Answer) {
	fmt.Fprintln(w, "\n── answer ──")
	for _, q := range scored(e.Answer) {
		pts := points(q, *e, given)
		mark := "✗"
		switch {
		case pts == 1:
			mark = "✓"
		case pts > 0:
			mark = "~"
		}
		if pts == 1 {
			fmt.Fprintf(w, "%s %-8s %s\n", mark, q, describe(q, e.Answer))
		} else {
			fmt.Fprintf(w, "%s %-8s you: %s; answer: %s\n", mark, q, describe(q, given), describe(q, e.Answer))
		}
	}
	fmt.Fprintln(w, e.Explanation)
	if len(e.Findings) > 0 {
		fmt.Fprintln(w, "Probity's findings on this run:")
		for _, f := range e.Findings {
			fmt.Fprintln(w, "  "+f)
		}
	}
	if e.Diff != "" {
		fmt.Fprintln(w, "The planted change:")
		io.WriteString(w, e.Diff)
	}
}
