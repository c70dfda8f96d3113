package eval

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
)

// Suite is an evaluation suite as written in YAML. Its core keys (name,
// target, dataset, trials, stop, concurrency, assert, gate) are a contract;
// suite.schema.json describes every key for editors.
type Suite struct {
	// Name names the suite in reports.
	Name string `yaml:"name" json:"name"`
	// Description says what the suite checks.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Target is what runs each trial.
	Target TargetSpec `yaml:"target" json:"target"`
	// Dataset is the file of cases, relative to the suite file.
	Dataset *DatasetSpec `yaml:"dataset,omitempty" json:"dataset,omitempty"`
	// Cases are inline cases, for small suites; they are added after Dataset's.
	Cases []map[string]any `yaml:"cases,omitempty" json:"cases,omitempty"`
	// Trials is how many times each case runs (the cap under sequential
	// stopping). Default 5.
	Trials int `yaml:"trials,omitempty" json:"trials,omitempty"`
	// Stop is fixed (every case runs Trials times) or sequential.
	Stop StopSpec `yaml:"stop,omitempty" json:"stop,omitzero"`
	// Concurrency bounds trials in flight. Default 8.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// Timeout bounds one trial, retries included. Default 60s.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Retries is how many times a rate-limited (429) or unavailable (503)
	// request is retried, honouring Retry-After. Default 3.
	Retries *int `yaml:"retries,omitempty" json:"retries,omitempty"`
	// RateLimit caps requests per second and tokens per minute.
	RateLimit *RateLimitSpec `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// Cache is a directory for the content-addressed trial cache; empty
	// disables it. Relative to the suite file.
	Cache string `yaml:"cache,omitempty" json:"cache,omitempty"`
	// Seed makes task order and bootstrap intervals reproducible.
	Seed int64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Assert lists the checks every trial must pass.
	Assert []AssertSpec `yaml:"assert,omitempty" json:"assert,omitempty"`
	// Gate is the CI verdict.
	Gate GateSpec `yaml:"gate,omitempty" json:"gate,omitzero"`

	// Dir is the directory of the suite file; relative paths resolve there.
	Dir string `yaml:"-" json:"-"`
	// Path is the suite file.
	Path string `yaml:"-" json:"-"`
}

// TargetSpec names exactly one kind of target.
type TargetSpec struct {
	HTTP   *HTTPTargetSpec   `yaml:"http,omitempty" json:"http,omitempty"`
	Exec   *ExecTargetSpec   `yaml:"exec,omitempty" json:"exec,omitempty"`
	OpenAI *OpenAITargetSpec `yaml:"openai,omitempty" json:"openai,omitempty"`
}

// HTTPTargetSpec POSTs each trial's request to URL and reads JSON back.
type HTTPTargetSpec struct {
	// URL is where trials are sent; ${VAR} expands from the environment.
	URL    string `yaml:"url" json:"url"`
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Headers are sent with every request; ${VAR} expands from the
	// environment so secrets stay out of the suite.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Request is a JSON template; strings "$id", "$trial", "$input",
	// "$input.a.b", "$fixtures" and "$tags" are replaced. Default: the case
	// itself plus the trial number, {"id", "trial", "input", "expected",
	// "fixtures", "tags"}; use a template to keep expected from an agent
	// that must not see it.
	Request any `yaml:"request,omitempty" json:"request,omitempty"`
	// Response says where in the reply the output, trace, cost and tokens are.
	Response ResponseSpec `yaml:"response,omitempty" json:"response,omitzero"`
}

// ExecTargetSpec runs Command once per trial with the request as JSON on
// stdin and reads JSON from stdout.
type ExecTargetSpec struct {
	Command  []string          `yaml:"command" json:"command"`
	Env      map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	Dir      string            `yaml:"dir,omitempty" json:"dir,omitempty"`
	Request  any               `yaml:"request,omitempty" json:"request,omitempty"`
	Response ResponseSpec      `yaml:"response,omitempty" json:"response,omitzero"`
}

// ResponseSpec maps a target's reply to an Output with JSON paths ("$.a.b").
// By default the output is the reply's "output" field when the reply is an
// object with one, else the whole reply; the trace is "trace" or "messages";
// the cost is "cost_usd"; tokens come from "usage".
type ResponseSpec struct {
	Output string `yaml:"output,omitempty" json:"output,omitempty"`
	Trace  string `yaml:"trace,omitempty" json:"trace,omitempty"`
	Cost   string `yaml:"cost,omitempty" json:"cost,omitempty"`
	Tokens string `yaml:"tokens,omitempty" json:"tokens,omitempty"`
}

// OpenAITargetSpec drives a chat model with tools; each tool call is answered
// from the case's fixtures, so runs are hermetic.
type OpenAITargetSpec struct {
	BaseURL string `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	Model   string `yaml:"model" json:"model"`
	// APIKeyEnv names the environment variable with the key (default
	// OPENAI_API_KEY; a missing key is sent as empty, which local servers accept).
	APIKeyEnv string `yaml:"api_key_env,omitempty" json:"api_key_env,omitempty"`
	// Tools is a JSON file with OpenAI tool definitions, relative to the suite.
	Tools string `yaml:"tools,omitempty" json:"tools,omitempty"`
	// System is the system prompt.
	System      string   `yaml:"system,omitempty" json:"system,omitempty"`
	MaxTurns    int      `yaml:"max_turns,omitempty" json:"max_turns,omitempty"`
	Temperature *float64 `yaml:"temperature,omitempty" json:"temperature,omitempty"`
	// Price turns token usage into cost: USD per million tokens.
	Price *PriceSpec `yaml:"price,omitempty" json:"price,omitempty"`
}

// PriceSpec is a model's price in USD per million tokens.
type PriceSpec struct {
	Input  float64 `yaml:"input" json:"input"`
	Output float64 `yaml:"output" json:"output"`
}

// DatasetSpec is the dataset file and its format. In YAML it may be written
// as just the path.
type DatasetSpec struct {
	Path   string `yaml:"path" json:"path"`
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
}

// UnmarshalYAML accepts a path string or {path, format}.
func (d *DatasetSpec) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		d.Path = s
		return nil
	}
	type plain DatasetSpec
	return unmarshal((*plain)(d))
}

// Stop modes.
const (
	StopFixed      = "fixed"
	StopSequential = "sequential"
)

// StopSpec chooses fixed-n or sequential stopping. Sequential stopping runs,
// per case, the anytime-valid SPRT of METHODS.md §4 between P0 (a pass rate
// that is not good enough) and P1 (one that is), with error rates Alpha
// (false pass) and Beta (false fail); Trials is the hard cap. In YAML it may
// be written as just the mode.
type StopSpec struct {
	Mode  string  `yaml:"mode" json:"mode"`
	P0    float64 `yaml:"p0,omitempty" json:"p0,omitempty"`
	P1    float64 `yaml:"p1,omitempty" json:"p1,omitempty"`
	Alpha float64 `yaml:"alpha,omitempty" json:"alpha,omitempty"`
	Beta  float64 `yaml:"beta,omitempty" json:"beta,omitempty"`
}

// UnmarshalYAML accepts "fixed", "sequential" or the full mapping.
func (s *StopSpec) UnmarshalYAML(unmarshal func(any) error) error {
	var m string
	if err := unmarshal(&m); err == nil {
		s.Mode = m
		return nil
	}
	type plain StopSpec
	return unmarshal((*plain)(s))
}

// RateLimitSpec caps the request rate and token throughput against the target.
type RateLimitSpec struct {
	RequestsPerSecond float64 `yaml:"requests_per_second,omitempty" json:"requests_per_second,omitempty"`
	TokensPerMinute   int     `yaml:"tokens_per_minute,omitempty" json:"tokens_per_minute,omitempty"`
}

// GateSpec is the CI verdict. Every condition set must hold.
type GateSpec struct {
	// MinPassRate requires the one-sided 95% lower confidence bound of the
	// suite pass rate (cluster-aware, see SuiteStats) to be at least this.
	MinPassRate *float64 `yaml:"min_pass_rate,omitempty" json:"min_pass_rate,omitempty"`
	// PassHatK requires the one-sided 95% lower bound of pass^k (bootstrap
	// over cases) to be at least Min.
	PassHatK *PassHatKGate `yaml:"pass_hat_k,omitempty" json:"pass_hat_k,omitempty"`
	// PassHatKCaret is PassHatK spelt "pass^k" in YAML.
	PassHatKCaret *PassHatKGate `yaml:"pass^k,omitempty" json:"-"`
	// MaxRegression fails the gate when, against --baseline, the posterior
	// probability that the pass rate dropped by more than this exceeds
	// RegressionConfidence.
	MaxRegression *float64 `yaml:"max_regression,omitempty" json:"max_regression,omitempty"`
	// RegressionConfidence is the posterior probability that counts as a
	// regression. Default 0.95.
	RegressionConfidence float64 `yaml:"regression_confidence,omitempty" json:"regression_confidence,omitempty"`
	// MaxErrorRate fails the gate when more than this fraction of trials
	// were errors (the target failed rather than the agent). Default: no limit.
	MaxErrorRate *float64 `yaml:"max_error_rate,omitempty" json:"max_error_rate,omitempty"`
}

// PassHatKGate is a pass^k requirement.
type PassHatKGate struct {
	K   int     `yaml:"k" json:"k"`
	Min float64 `yaml:"min" json:"min"`
}

// Defaults applied by LoadSuite.
const (
	DefaultTrials      = 5
	DefaultConcurrency = 8
	DefaultTimeout     = 60 * time.Second
	DefaultRetries     = 3
)

// LoadSuite reads and validates the suite at path. Invalid YAML, unknown
// keys and bad values return a *probity.Error with the line and column.
func LoadSuite(path string) (*Suite, error) {
	data, err := yamlx.ReadFile(path, "suite", yamlx.MaxSuiteBytes)
	if err != nil {
		return nil, err
	}
	return ParseSuite(path, data)
}

// ParseSuite parses a suite from data; path names it in errors and anchors
// relative paths.
func ParseSuite(path string, data []byte) (*Suite, error) {
	if err := yamlx.Check(path, data, yamlx.MaxSuiteBytes); err != nil {
		return nil, err
	}
	var file *ast.File
	err := safeYAML(func() (err error) {
		file, err = parser.ParseBytes(data, 0)
		return err
	})
	if err != nil {
		return nil, yamlError(path, err)
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "want one YAML document with the suite"}
	}
	if _, ok := file.Docs[0].Body.(*ast.MappingNode); !ok {
		if _, ok := file.Docs[0].Body.(*ast.MappingValueNode); !ok {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: nodeWhere(file.Docs[0].Body),
				Message: "want a mapping with keys name, target, dataset, trials, assert, gate"}
		}
	}
	var s Suite
	if err := safeYAML(func() error {
		return yaml.UnmarshalWithOptions(data, &s, yaml.DisallowUnknownField(), yaml.Strict())
	}); err != nil {
		return nil, yamlError(path, err)
	}
	s.Path = path
	s.Dir = filepath.Dir(path)
	v := validator{path: path, file: file}
	s.validate(&v)
	if v.err != nil {
		return nil, v.err
	}
	return &s, nil
}

// safeYAML runs a go-yaml call, turning a panic inside the library (the
// fuzzer found one on odd tags) into an error: bad input must never crash.
func safeYAML(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML the parser cannot handle (%v)", r)
		}
	}()
	return f()
}

// validator records the first semantic error with the position of the key
// it concerns, found through the parsed AST.
type validator struct {
	path string
	file *ast.File
	err  error
}

func (v *validator) fail(yamlPath, format string, args ...any) {
	if v.err != nil {
		return
	}
	v.err = &probity.Error{Code: probity.EINVALID, File: v.path, Where: v.where(yamlPath), Message: fmt.Sprintf(format, args...)}
}

// where returns "line L, column C" of the key or node at yamlPath, or of
// its nearest ancestor that exists. A mapping key is located by its key
// token, which is where a reader looks for it.
func (v *validator) where(yamlPath string) string {
	for p := yamlPath; p != "" && p != "$"; {
		i := strings.LastIndexAny(p, ".[")
		if i > 0 && p[i] == '.' {
			if n := v.node(p[:i]); n != nil {
				if k := mappingKey(n, p[i+1:]); k != nil {
					return nodeWhere(k)
				}
			}
		}
		if n := v.node(p); n != nil {
			return nodeWhere(n)
		}
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

func (v *validator) node(path string) ast.Node {
	if path == "$" {
		return v.file.Docs[0].Body
	}
	yp, err := yaml.PathString(path)
	if err != nil {
		return nil
	}
	n, err := yp.FilterFile(v.file)
	if err != nil {
		return nil
	}
	return n
}

// mappingKey finds the key node named key in a mapping node.
func mappingKey(n ast.Node, key string) ast.Node {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	}
	for _, mv := range values {
		if mv.Key != nil && mv.Key.GetToken() != nil && mv.Key.GetToken().Value == key {
			return mv.Key
		}
	}
	return nil
}

func nodeWhere(n ast.Node) string {
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return ""
	}
	return fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
}

// yamlError turns a go-yaml error into a *probity.Error with the line,
// column and what the parser expected.
func yamlError(path string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		where := ""
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
		}
		return &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: cleanYAMLMessage(ye.GetMessage())}
	}
	var pe *probity.Error
	if errors.As(err, &pe) {
		if pe.File == "" {
			pe.File = path
		}
		return pe
	}
	return &probity.Error{Code: probity.EINVALID, File: path, Message: "bad YAML", Err: err}
}

// cleanYAMLMessage rewords go-yaml messages that name Go types, which mean
// nothing to a suite author.
func cleanYAMLMessage(m string) string {
	r := strings.NewReplacer("eval.", "", "[]map[string]interface {}", "a list of mappings", "map[string]interface {}", "a mapping",
		"map[string]string", "a mapping of strings", "[]string", "a list of strings", "interface {}", "a value", "time.Duration", "a duration like 30s")
	m = r.Replace(m)
	if strings.HasPrefix(m, "unknown field") {
		m += " (see `probity eval schema` for the keys a suite may have)"
	}
	return m
}

func (s *Suite) validate(v *validator) {
	if strings.TrimSpace(s.Name) == "" {
		v.fail("$.name", "suite has no name")
	}
	n := 0
	if t := s.Target.HTTP; t != nil {
		n++
		// ${VAR} in the URL expands from the environment, so CI can point
		// one suite at the service it just started.
		t.URL = expandEnv(t.URL)
		if t.URL == "" {
			v.fail("$.target.http", "http target needs a url")
		} else if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			v.fail("$.target.http.url", "url %q must start with http:// or https://", t.URL)
		}
		if t.Method == "" {
			t.Method = "POST"
		}
		s.validateResponse(v, "$.target.http.response", t.Response)
	}
	if t := s.Target.Exec; t != nil {
		n++
		if len(t.Command) == 0 || t.Command[0] == "" {
			v.fail("$.target.exec", "exec target needs a command, e.g. command: [python3, agent.py]")
		}
		s.validateResponse(v, "$.target.exec.response", t.Response)
	}
	if t := s.Target.OpenAI; t != nil {
		n++
		if t.Model == "" {
			v.fail("$.target.openai", "openai target needs a model")
		}
		if t.MaxTurns < 0 {
			v.fail("$.target.openai.max_turns", "max_turns must be positive")
		}
		if t.MaxTurns == 0 {
			t.MaxTurns = 10
		}
		if t.APIKeyEnv == "" {
			t.APIKeyEnv = "OPENAI_API_KEY"
		}
	}
	switch n {
	case 0:
		v.fail("$.target", "suite needs a target: one of http, exec or openai")
	case 1:
	default:
		v.fail("$.target", "target must be exactly one of http, exec or openai, not %d", n)
	}
	if s.Dataset == nil && len(s.Cases) == 0 {
		v.fail("$", "suite needs a dataset file or inline cases")
	}
	if s.Dataset != nil {
		if s.Dataset.Path == "" {
			v.fail("$.dataset", "dataset needs a path")
		}
		switch s.Dataset.Format {
		case FormatAuto, FormatJSONL, FormatCSV, FormatYAML, FormatTauBench:
		default:
			v.fail("$.dataset.format", "unknown dataset format %q (want jsonl, csv, yaml or taubench)", s.Dataset.Format)
		}
	}
	if s.Trials < 0 {
		v.fail("$.trials", "trials must be at least 1")
	}
	if s.Trials == 0 {
		s.Trials = DefaultTrials
	}
	if s.Concurrency < 0 {
		v.fail("$.concurrency", "concurrency must be at least 1")
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.Timeout < 0 {
		v.fail("$.timeout", "timeout must be positive")
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Retries == nil {
		r := DefaultRetries
		s.Retries = &r
	} else if *s.Retries < 0 {
		v.fail("$.retries", "retries must be zero or more")
	}
	if rl := s.RateLimit; rl != nil && (rl.RequestsPerSecond < 0 || rl.TokensPerMinute < 0) {
		v.fail("$.rate_limit", "rate limits must be positive")
	}
	s.validateStop(v)
	if len(s.Assert) == 0 {
		v.fail("$", "suite has no assertions: add an assert list (e.g. - cel: 'output.answer == expected.answer')")
	}
	for i := range s.Assert {
		s.Assert[i].validate(v, fmt.Sprintf("$.assert[%d]", i))
	}
	g := &s.Gate
	if g.PassHatKCaret != nil {
		if g.PassHatK != nil {
			v.fail("$.gate", "give pass_hat_k or pass^k, not both")
		}
		g.PassHatK, g.PassHatKCaret = g.PassHatKCaret, nil
	}
	if g.MinPassRate != nil && (*g.MinPassRate < 0 || *g.MinPassRate > 1) {
		v.fail("$.gate.min_pass_rate", "min_pass_rate must be in [0, 1]")
	}
	if g.PassHatK != nil {
		if g.PassHatK.K < 1 || g.PassHatK.K > s.Trials {
			v.fail("$.gate.pass_hat_k.k", "pass_hat_k.k must be between 1 and trials (%d)", s.Trials)
		}
		if g.PassHatK.Min < 0 || g.PassHatK.Min > 1 {
			v.fail("$.gate.pass_hat_k.min", "pass_hat_k.min must be in [0, 1]")
		}
	}
	if g.MaxRegression != nil && (*g.MaxRegression < 0 || *g.MaxRegression >= 1) {
		v.fail("$.gate.max_regression", "max_regression must be in [0, 1)")
	}
	if g.RegressionConfidence == 0 {
		g.RegressionConfidence = 0.95
	} else if g.RegressionConfidence <= 0.5 || g.RegressionConfidence >= 1 {
		v.fail("$.gate.regression_confidence", "regression_confidence must be in (0.5, 1)")
	}
	if g.MaxErrorRate != nil && (*g.MaxErrorRate < 0 || *g.MaxErrorRate > 1) {
		v.fail("$.gate.max_error_rate", "max_error_rate must be in [0, 1]")
	}
}

func (s *Suite) validateResponse(v *validator, at string, r ResponseSpec) {
	for k, p := range map[string]string{"output": r.Output, "trace": r.Trace, "cost": r.Cost, "tokens": r.Tokens} {
		if p == "" {
			continue
		}
		if _, err := parseJSONPath(p); err != nil {
			v.fail(at+"."+k, "bad JSON path %q: %v", p, err)
		}
	}
}

// validateStop fills the sequential defaults: p0 is the gate's min_pass_rate
// when set (a case below it is not good enough), else 0.8; p1 sits halfway
// to 1; α = 0.05 and β = 0.2 as in METHODS.md §4.
func (s *Suite) validateStop(v *validator) {
	st := &s.Stop
	switch st.Mode {
	case "", StopFixed:
		st.Mode = StopFixed
		if st.P0 != 0 || st.P1 != 0 || st.Alpha != 0 || st.Beta != 0 {
			v.fail("$.stop", "p0, p1, alpha and beta apply only to stop: sequential")
		}
		return
	case StopSequential:
	default:
		v.fail("$.stop", "stop must be fixed or sequential, not %q", st.Mode)
		return
	}
	if st.P0 == 0 {
		st.P0 = 0.8
		if s.Gate.MinPassRate != nil && *s.Gate.MinPassRate > 0 && *s.Gate.MinPassRate < 1 {
			st.P0 = *s.Gate.MinPassRate
		}
	}
	if st.P1 == 0 {
		st.P1 = st.P0 + (1-st.P0)/2
	}
	if st.Alpha == 0 {
		st.Alpha = 0.05
	}
	if st.Beta == 0 {
		st.Beta = 0.2
	}
	if !(st.P0 > 0 && st.P0 < st.P1 && st.P1 < 1) {
		v.fail("$.stop", "sequential stopping needs 0 < p0 < p1 < 1 (got p0=%g, p1=%g)", st.P0, st.P1)
	}
	if !(st.Alpha > 0 && st.Alpha < 0.5) || !(st.Beta > 0 && st.Beta < 0.5) {
		v.fail("$.stop", "alpha and beta must be in (0, 0.5)")
	}
	if err := sequentialConfig(*st, max(s.Trials, 1)).Validate(); err != nil {
		v.fail("$.stop", "%v", err)
	}
}

// resolve returns p relative to the suite's directory.
func (s *Suite) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// LoadCases reads the suite's dataset and inline cases.
func (s *Suite) LoadCases() ([]Case, error) {
	var cases []Case
	if s.Dataset != nil {
		c, err := LoadDataset(s.resolve(s.Dataset.Path), s.Dataset.Format)
		if err != nil {
			return nil, err
		}
		cases = c
	}
	if len(s.Cases) > 0 {
		b, err := marshalJSON(s.Cases)
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: s.Path, Message: "bad inline cases", Err: err}
		}
		c, err := parseJSONList(s.Path, b)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c...)
	}
	if err := checkCases(s.Path, cases); err != nil {
		return nil, err
	}
	return cases, nil
}
