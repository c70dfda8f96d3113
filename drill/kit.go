package drill

import (
	"bytes"
	"fmt"
	"html/template"
	"io"

	"github.com/probity/probity"
)

// Rubric describes strong, adequate and weak answers for one skill.
type Rubric struct {
	Skill, Strong, Adequate, Weak string
}

// Rubrics are the interview kit's rubric, one per skill.
var Rubrics = []Rubric{
	{SkillDetect,
		"Says whether the run failed and names the failure class from the evidence in the trace (the tool result the claim contradicts, the id that differs by one digit), without being led by a fluent final message; says \"nothing is wrong\" on a clean run and explains why a flag is a false alarm.",
		"Gets failed/not failed right but names the class loosely, or needs Probity's findings to see it.",
		"Trusts the agent's own summary; calls a clean run failed because it is long, or a failed run fine because every tool call returned 200."},
	{SkillLocalize,
		"Names the step where the failure began (not where it became visible) and every later step that carried it, in particular the side-effecting actions: the blast radius.",
		"Finds the step where the failure shows, or the origin but not its spread.",
		"Points at the final answer, or cannot say which steps are affected."},
	{SkillContain,
		"Names the policy rule that would have blocked the action, and says when no rule could: a check the policy lacks (and which one to add).",
		"Names a plausible rule but not the one that fires at that step.",
		"Proposes \"a better prompt\" or a rule that would not have fired on this trace."},
	{SkillReason,
		"Computes the number (within tolerance) and says what it means: an interval or posterior, not a yes or no; knows that small samples leave wide uncertainty and that pass^k falls fast with k.",
		"Right order of magnitude, or the right method with an arithmetic slip.",
		"Reads 9/10 versus 7/10 as proof; confuses pass@k with pass^k; guesses a sample size."},
}

type kitDrill struct {
	*Drill
	Timeline string
	Key      *KeyEntry
}

// WriteKit writes a self-contained HTML interview kit: the drills and
// their questions, then the key on separate pages (a printed kit can be
// split), then the rubric. It loads nothing from the network; render
// prints a trace as `probity show` does, without colour.
func WriteKit(w io.Writer, set *Set, render func(io.Writer, *probity.Trace)) error {
	if set.Key == nil {
		return &probity.Error{Code: probity.EINVALID, Message: "the set has no key.json; a kit needs the key"}
	}
	var ds []kitDrill
	for _, d := range set.Drills {
		kd := kitDrill{Drill: d}
		kd.Key, _ = set.Key.Entry(d.ID)
		if d.Trace != nil && render != nil {
			var b bytes.Buffer
			render(&b, d.Trace)
			kd.Timeline = b.String()
		}
		ds = append(ds, kd)
	}
	return kitTmpl.Execute(w, map[string]any{"Drills": ds, "Rubrics": Rubrics, "Seed": set.Key.Seed})
}

var kitTmpl = template.Must(template.New("kit").Funcs(template.FuncMap{
	"answer": func(q string, a Answer) string { return describe(q, a) },
	"scored": scored,
	"skill":  skillOf,
	"tol": func(e *KeyEntry) string {
		if e.Tolerance == 0 {
			return ""
		}
		return fmt.Sprintf(" (± %g)", e.Tolerance)
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Probity failure drills: interview kit</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
pre { font-family: ui-monospace, monospace; font-size: 0.78rem; background: #f6f6f6; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
.drill { page-break-inside: avoid; margin-bottom: 2rem; }
.page { page-break-before: always; break-before: page; }
.meta { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #ccc; padding: 0.4rem; vertical-align: top; text-align: left; }
ol.q li { margin: 0.3rem 0; }
.choices { color: #555; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>Failure drills</h1>
<p class="meta">{{len .Drills}} drills, easiest first (seed {{.Seed}}). Step positions are the numbers at the left of each
timeline. The key starts on a new page.</p>
{{range .Drills}}
<section class="drill" id="{{.ID}}">
<h2>{{.ID}} <span class="meta">({{.Difficulty}})</span></h2>
<p>{{.Prompt}}</p>
{{if .Timeline}}<pre>{{.Timeline}}</pre>{{end}}
<ol class="q">
{{range .Questions}}<li>{{.Text}}{{if .Choices}}<div class="choices">{{range $i, $c := .Choices}}{{if $i}} · {{end}}{{$c}}{{end}}</div>{{end}}</li>
{{end}}</ol>
</section>
{{end}}
<section class="page">
<h1>Key</h1>
{{range .Drills}}{{$k := .Key}}
<div class="drill">
<h2>{{.ID}} <span class="meta">{{$k.Origin}}, {{$k.Difficulty}} — {{$k.From}}</span></h2>
<table>
<tr><th>question</th><th>skill</th><th>answer</th></tr>
{{range scored $k.Answer}}<tr><td>{{.}}</td><td>{{skill .}}</td><td>{{answer . $k.Answer}}{{if eq . "value"}}{{tol $k}}{{end}}</td></tr>
{{end}}</table>
<p>{{$k.Explanation}}</p>
{{if $k.Findings}}<p>Probity's findings:</p><pre>{{range $k.Findings}}{{.}}
{{end}}</pre>{{end}}
{{if $k.Diff}}<p>The planted change:</p><pre>{{$k.Diff}}</pre>{{end}}
</div>
{{end}}
</section>
<section class="page">
<h1>Rubric</h1>
<table>
<tr><th>skill</th><th>strong</th><th>adequate</th><th>weak</th></tr>
{{range .Rubrics}}<tr><td>{{.Skill}}</td><td>{{.Strong}}</td><td>{{.Adequate}}</td><td>{{.Weak}}</td></tr>
{{end}}</table>
<p class="meta">Scoring: one point per question the key answers; the reached steps earn the overlap of the two sets over their
union; a number earns the point within its tolerance and half of it within twice that.</p>
</section>
</body>
</html>
`))
