package blindinject_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/blindinject"
	"github.com/probity/probity/internal/shareddata"
)

// baseRun is a real successful run the faults are planted into.
type baseRun struct {
	dataset  string
	trace    *probity.Trace
	findings []probity.Finding
}

// successfulRuns loads the real runs that succeeded: τ-bench airline with
// reward 1, AgentRx retail with reward 1, SWE-bench resolved.
func successfulRuns(t *testing.T) []baseRun {
	t.Helper()
	sets := []struct{ name, path string }{
		{"tau-airline", shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")},
		{"agentrx-retail", shareddata.Path(t, "agentrx-tau-retail", "trajectories.json")},
		{"swe-bench", shareddata.Path(t, "swebench-gemini3pro", "trajs")},
	}
	var out []baseRun
	for _, s := range sets {
		ts, err := ingest.ReadAll(context.Background(), s.path, ingest.Options{})
		if err != nil {
			t.Fatalf("ReadAll(%s): %v", s.path, err)
		}
		for _, tr := range ts {
			l := tr.Labels
			if l.Reward != nil && *l.Reward == 1 || l.Resolved != nil && *l.Resolved {
				out = append(out, baseRun{dataset: s.name, trace: tr})
			}
		}
	}
	return out
}

// classKinds are the step kinds a fault of each class can begin on, for the
// chance baseline.
var classKinds = map[blindinject.Class][]probity.Kind{
	blindinject.NearMissID:          {probity.KindToolCall},
	blindinject.ContradictedClaim:   {probity.KindAssistant},
	blindinject.SwallowedError:      {probity.KindToolResult},
	blindinject.UnverifiedSuccess:   {probity.KindAssistant},
	blindinject.Loop:                {probity.KindToolCall},
	blindinject.InjectedInstruction: {probity.KindToolResult, probity.KindRetrieval, probity.KindReturn},
	blindinject.Cascade:             {probity.KindToolCall, probity.KindAssistant},
}

// tally accumulates the measurement of one class or variant.
type tally struct {
	planted, hit, hitHigh int
	newTrue, newFalse     int
	chance                float64
}

func (t *tally) add(o tally) {
	t.planted += o.planted
	t.hit += o.hit
	t.hitHigh += o.hitHigh
	t.newTrue += o.newTrue
	t.newFalse += o.newFalse
	t.chance += o.chance
}

func ratio(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// score compares the findings on a planted trace with those on its base:
// a finding is new unless the base had one from the same detector at the
// same (mapped) position. Recall counts a new finding of the expected
// detector at an accepted position; precision counts new findings on the
// fault's positions against new findings anywhere.
func score(base []probity.Finding, got []probity.Finding, truth blindinject.Truth, tr *probity.Trace) tally {
	old := map[string]bool{}
	for _, f := range base {
		old[fmt.Sprintf("%s@%d", f.Detector, f.Step)] = true
	}
	related := truth.Related()
	o := tally{planted: 1}
	for _, f := range got {
		if f.Step >= 0 && f.Step < len(truth.Origin) && truth.Origin[f.Step] >= 0 && old[fmt.Sprintf("%s@%d", f.Detector, truth.Origin[f.Step])] {
			continue
		}
		if slices.Contains(related, f.Step) {
			o.newTrue++
		} else {
			o.newFalse++
		}
		if f.Detector == truth.Detector && slices.Contains(truth.At, f.Step) {
			if o.hit == 0 {
				o.hit = 1
			}
			if f.Severity == probity.SeverityHigh {
				o.hitHigh = 1
			}
		}
	}
	cands := map[int]bool{}
	for _, s := range tr.Steps {
		if slices.Contains(classKinds[truth.Class], s.Kind) {
			cands[s.Pos.Index] = true
		}
	}
	at := 0
	for _, p := range truth.At {
		if cands[p] {
			at++
		}
	}
	if len(cands) > 0 {
		o.chance = float64(at) / float64(len(cands))
	}
	return o
}

// seedsPerRun is how many faults of each class are planted into each run.
const seedsPerRun = 3

// TestMeasure plants every class of fault into the real successful runs and
// reports, per class and per variant, what the detectors (run as a black
// box through analysis) catch. It prints the numbers and does not fail on
// low recall: the targets belong to the detector work. It fails when the
// injection itself breaks: an error, a malformed trace, a nondeterministic
// plant, a changed base trace, a class or variant never planted.
//
//	go test ./internal/blindinject -run TestMeasure -v
func TestMeasure(t *testing.T) {
	if raceEnabled {
		t.Skip("measurement: no concurrency to check and ten times slower under the race detector; .ci/run runs it without -race")
	}
	runs := successfulRuns(t)
	if len(runs) < 150 {
		t.Fatalf("%d successful runs loaded, want the ~197 of ../shared/data", len(runs))
	}
	an := analysis.New(analysis.Options{})
	parallel(len(runs), func(i int) { runs[i].findings = an.Run(runs[i].trace).Findings })
	cleanHigh := map[string][2]int{}
	for _, r := range runs {
		if err := blindinject.CheckTrace(r.trace); err != nil {
			t.Fatalf("a real trace fails the well-formedness check, so the check is wrong: %v", err)
		}
		c := cleanHigh[r.dataset]
		c[1]++
		for _, f := range r.findings {
			if f.Severity == probity.SeverityHigh {
				c[0]++
				break
			}
		}
		cleanHigh[r.dataset] = c
	}
	before := make([][]byte, len(runs))
	for i, r := range runs {
		before[i], _ = json.Marshal(r.trace)
	}

	// One job per run, class and seed; the analyses run on every core and
	// the results are summed in job order.
	type job struct {
		run   int
		class blindinject.Class
		seed  int64
		truth blindinject.Truth
		o     tally
		err   error
		skip  bool
		hash  [32]byte
	}
	var jobs []job
	for i := range runs {
		for _, c := range blindinject.Classes() {
			for seed := int64(1); seed <= seedsPerRun; seed++ {
				jobs = append(jobs, job{run: i, class: c, seed: seed})
			}
		}
	}
	parallel(len(jobs), func(k int) {
		j := &jobs[k]
		r := runs[j.run]
		pt, truth, err := blindinject.Plant(r.trace, j.class, j.seed)
		if err == blindinject.ErrNotApplicable {
			j.skip = true
			return
		}
		if err != nil {
			j.err = err
			return
		}
		again, truth2, _ := blindinject.Plant(r.trace, j.class, j.seed)
		a, _ := json.Marshal(pt)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) || truth.Note != truth2.Note {
			j.err = fmt.Errorf("not deterministic")
			return
		}
		j.hash = sha256.Sum256(a)
		j.truth = truth
		j.o = score(r.findings, an.Run(pt).Findings, truth, pt)
	})

	byClass := map[blindinject.Class]*tally{}
	byVariant := map[string]*tally{}
	byDataset := map[string]*tally{}
	byPhrasing := map[string]*tally{}
	var misses []string
	for _, c := range blindinject.Classes() {
		byClass[c] = &tally{}
		for _, v := range blindinject.Variants(c) {
			byVariant[string(c)+"/"+v] = &tally{}
		}
	}
	// Two seeds may plant the same fault in the same place: count it once.
	counted := map[[32]byte]bool{}
	dups := 0
	for _, j := range jobs {
		r := runs[j.run]
		if j.err != nil {
			t.Errorf("Plant(%s, %s, %d): %v", r.trace.ID, j.class, j.seed, j.err)
			continue
		}
		if j.skip {
			continue
		}
		if counted[j.hash] {
			dups++
			continue
		}
		counted[j.hash] = true
		byClass[j.class].add(j.o)
		byVariant[string(j.class)+"/"+j.truth.Variant].add(j.o)
		if j.truth.Phrasing != "" {
			k := string(j.class) + " phrased " + j.truth.Phrasing
			if byPhrasing[k] == nil {
				byPhrasing[k] = &tally{}
			}
			byPhrasing[k].add(j.o)
		}
		k := string(j.class) + " · " + r.dataset
		if byDataset[k] == nil {
			byDataset[k] = &tally{}
		}
		byDataset[k].add(j.o)
		if j.o.hit == 0 {
			misses = append(misses, fmt.Sprintf("%s/%s %s@%d: %s", j.class, j.truth.Variant, r.trace.ID, j.truth.Step, j.truth.Note))
		}
	}
	for i, r := range runs {
		after, _ := json.Marshal(r.trace)
		if !bytes.Equal(before[i], after) {
			t.Errorf("planting into %s changed the base trace", r.trace.ID)
		}
	}

	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(&buf, "Blind injector over %d real successful runs, %d seeds per run and class (%d repeated plants counted once); detectors run as a black box.\n\n", len(runs), seedsPerRun, dups)
	fmt.Fprintln(w, "class\texpected detector\tplanted\trecall\trecall (high)\tprecision of new findings\tchance (random step of the kind)\t")
	total := tally{}
	for _, c := range blindinject.Classes() {
		x := byClass[c]
		if x.planted == 0 {
			t.Errorf("class %s: no fault planted in %d runs", c, len(runs))
			continue
		}
		total.add(*x)
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%.2f\t\n", c, c.Detector(), x.planted, ratio(x.hit, x.planted), ratio(x.hitHigh, x.planted),
			ratio(x.newTrue, x.newTrue+x.newFalse), x.chance/float64(x.planted))
	}
	w.Flush()
	buf.WriteString("\nclean runs with a high finding:")
	var ds []string
	for d := range cleanHigh {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	n, hi := 0, 0
	for _, d := range ds {
		fmt.Fprintf(&buf, " %s %d/%d;", d, cleanHigh[d][0], cleanHigh[d][1])
		n += cleanHigh[d][1]
		hi += cleanHigh[d][0]
	}
	fmt.Fprintf(&buf, " all %d/%d (%.1f%%)\n\nper variant (carrier or phrasing):\n", hi, n, 100*float64(hi)/float64(n))
	w = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "class/variant\tplanted\trecall\tprecision\t")
	var vs []string
	for v := range byVariant {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	for _, v := range vs {
		x := byVariant[v]
		if x.planted == 0 {
			t.Errorf("variant %s was never planted: its carrier found no place in any real run", v)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", v, x.planted, ratio(x.hit, x.planted), ratio(x.newTrue, x.newTrue+x.newFalse))
	}
	w.Flush()
	buf.WriteString("\nper phrasing of the injected instruction:\n")
	w = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	var pk []string
	for k := range byPhrasing {
		pk = append(pk, k)
	}
	sort.Strings(pk)
	for _, k := range pk {
		x := byPhrasing[k]
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", k, x.planted, ratio(x.hit, x.planted), ratio(x.newTrue, x.newTrue+x.newFalse))
	}
	w.Flush()
	buf.WriteString("\nper dataset:\n")
	w = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	var dk []string
	for k := range byDataset {
		dk = append(dk, k)
	}
	sort.Strings(dk)
	for _, k := range dk {
		x := byDataset[k]
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t\n", k, x.planted, ratio(x.hit, x.planted), ratio(x.newTrue, x.newTrue+x.newFalse))
	}
	w.Flush()
	t.Log("\n" + buf.String())
	if os.Getenv("BLINDINJECT_MISSES") != "" {
		t.Logf("%d misses:\n%s", len(misses), strings.Join(misses, "\n"))
	}
}

// parallel calls f(0..n-1) on every core.
func parallel(n int, f func(int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
