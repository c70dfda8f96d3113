package drill

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/inject"
	"github.com/probity/probity/internal/shareddata"
)

// curriculum reads the shared real data the default curriculum is made
// from (docs/drills.md).
func curriculum(t *testing.T) []*probity.Trace {
	return readTraces(t,
		shareddata.Path(t, "tau-bench", "gpt-4o-airline.json"),
		shareddata.Path(t, "agentrx-tau-retail", "trajectories.json"),
		shareddata.Path(t, "who-and-when", "algorithm-generated"))
}

// TestCurriculum makes the default curriculum from ../shared/data and
// checks every key by construction: a planted drill's key is what the
// injector plants again from the source run; an easy drill is one the
// expected detector flags on the trace as written to disk; every fault
// class appears, the hard ones included; the key grades itself full and
// trivial answer sheets low. It logs the measurement docs/drills.md shows:
//
//	go test ./drill -run TestCurriculum -v
func TestCurriculum(t *testing.T) {
	traces := curriculum(t)
	bySource := map[string]*probity.Trace{}
	for _, tr := range traces {
		bySource[from(tr)] = tr
	}
	const seed = 1
	_, dir := makeSet(t, traces, Options{Count: 40, Seed: seed})
	set, err := Load(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Drills) != 40 {
		t.Fatalf("made %d drills, want 40", len(set.Drills))
	}
	an := analysis.New(analysis.Options{})
	classes := map[string]string{}
	byOrigin := map[string]map[string]int{}
	last := 0
	for _, d := range set.Drills {
		k, _ := set.Key.Entry(d.ID)
		if r := difficultyRank(d.Difficulty); r < last {
			t.Errorf("%s (%s) comes after a harder drill: the set is not ordered easy to hard", d.ID, d.Difficulty)
		} else {
			last = r
		}
		if k.Difficulty != d.Difficulty {
			t.Errorf("%s: drill says %s, key says %s", d.ID, d.Difficulty, k.Difficulty)
		}
		if byOrigin[k.Origin] == nil {
			byOrigin[k.Origin] = map[string]int{}
		}
		byOrigin[k.Origin][k.Difficulty]++
		if d.Trace != nil && !d.Trace.Labels.Empty() {
			t.Errorf("%s: the drill's trace carries its labels", d.ID)
		}
		if k.Origin != OriginPlanted {
			continue
		}
		class := *k.Answer.Class
		classes[class] += d.Difficulty + " "
		src := bySource[k.From]
		if src == nil {
			t.Fatalf("%s: source %s not among the inputs", d.ID, k.From)
		}
		p, ok := inject.InjectSeeded(src, class, seed)
		if !ok || p.Pos != *k.Answer.Step {
			t.Errorf("%s: replanting %s in %s gives step %v (ok %v), key says %d", d.ID, class, k.From, p.Pos, ok, *k.Answer.Step)
		}
		rep := an.Run(d.Trace)
		found := false
		for _, f := range rep.Findings {
			if f.Step == *k.Answer.Step && f.Detector == inject.ExpectedDetector[class] && f.Severity >= probity.SeverityMedium {
				found = true
			}
		}
		if d.Difficulty == Easy && !found {
			t.Errorf("%s: easy, but %s does not flag step %d of the trace on disk", d.ID, inject.ExpectedDetector[class], *k.Answer.Step)
		}
	}
	for _, c := range inject.AllFaults() {
		if classes[c] == "" {
			t.Errorf("no planted %s drill in the curriculum", c)
		}
	}

	r, err := Grade(set.Key, keyAnswers(set.Key))
	if err != nil || r.Score != r.Max {
		t.Fatalf("key against itself: %v of %v (%v)", r.Score, r.Max, err)
	}
	// Trivial answer sheets: every run failed (with the most common
	// class), or none did; both must score well below the key.
	yes, no := map[string]Answer{}, map[string]Answer{}
	for _, d := range set.Drills {
		yes[d.ID] = Answer{Failed: ptr(true), Class: ptr(inject.FaultNearMiss), Reached: &[]int{}, Rule: ptr(None)}
		no[d.ID] = Answer{Failed: ptr(false)}
	}
	ry, _ := Grade(set.Key, yes)
	rn, _ := Grade(set.Key, no)
	for name, b := range map[string]*Result{"always failed": ry, "never failed": rn} {
		if b.Score > 0.5*r.Max {
			t.Errorf("the trivial sheet %q scores %v of %v, want at most half", name, b.Score, r.Max)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "curriculum: %d drills from %d traces (seed %d), %v points\n", len(set.Drills), len(traces), seed, r.Max)
	for _, o := range Origins {
		fmt.Fprintf(&b, "  %-11s easy %d, medium %d, hard %d\n", o, byOrigin[o][Easy], byOrigin[o][Medium], byOrigin[o][Hard])
	}
	var cs []string
	for c, l := range classes {
		cs = append(cs, fmt.Sprintf("  %-26s %s", c, l))
	}
	sort.Strings(cs)
	fmt.Fprintf(&b, "planted classes:\n%s\n", strings.Join(cs, "\n"))
	fmt.Fprintf(&b, "key %v of %v; trivial sheets: always failed %v, never failed %v\n", r.Score, r.Max, ry.Score, rn.Score)
	for _, s := range Skills {
		fmt.Fprintf(&b, "  %-9s always failed %v of %v, never failed %v\n", s, ry.BySkill[s][0], ry.BySkill[s][1], rn.BySkill[s][0])
	}
	t.Log("\n" + b.String())
}
