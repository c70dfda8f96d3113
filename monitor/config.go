package monitor

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/internal/yamlx"
)

// Limits on a monitors file: it is configuration, not data, and a YAML
// alias bomb must not expand into gigabytes.
const (
	MaxConfigBytes = 1 << 20
	maxConfigNodes = 100_000
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the monitors file that ships with Probity, the one
// Default parses, for `probity serve` to print or a user to copy.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// Config is a parsed monitors file: what to watch, where to send alerts,
// and how to retry.
type Config struct {
	// File names the source ("(default)" for the embedded defaults).
	File      string
	Monitors  []*Monitor
	Notifiers []*Notifier
	Delivery  DeliveryConfig
}

// Monitor is one rate to watch.
type Monitor struct {
	Name        string
	Kind        string
	Description string
	// GroupBy lists the attributes whose values split the rate into
	// series; each series has its own baseline and alarm.
	GroupBy []string
	// Where keeps only observations whose attribute has one of the values.
	Where map[string][]string
	// MaxGroups bounds the series; observations of further groups are
	// counted as dropped, not watched.
	MaxGroups int
	// Line is where the monitor is defined.
	Line int

	kind   kind
	tuning tuning
}

// ARL0 returns the monitor's target mean traces between false alarms.
func (m *Monitor) ARL0() float64 { return m.tuning.ARL0 }

// Notifier is one receiver of alerts.
type Notifier struct {
	Name string
	// Type is "webhook" (the Probity payload), "alertmanager" (the
	// Alertmanager webhook shape) or "slack" (an incoming-webhook message).
	Type    string
	URL     string
	Headers map[string]string
	// Monitors limits the notifier to these monitors; empty means all.
	Monitors []string
	// SendResolved sends a notice when an alert resolves.
	SendResolved bool
	Timeout      time.Duration
	Line         int
}

// wants reports whether n receives alerts of monitor m.
func (n *Notifier) wants(m string) bool {
	return len(n.Monitors) == 0 || slices.Contains(n.Monitors, m)
}

// DeliveryConfig sets how notifications are retried: exponential backoff
// from InitialBackoff, doubling up to MaxBackoff, until GiveUpAfter has
// passed since the alert changed.
type DeliveryConfig struct {
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	GiveUpAfter    time.Duration
}

// The YAML shape. Keys are a contract (docs/monitors.md); unknown keys are
// rejected so a misspelt key cannot silently change a monitor.
type fileConfig struct {
	Defaults  fileMonitor    `yaml:"defaults"`
	Monitors  []fileMonitor  `yaml:"monitors"`
	Notifiers []fileNotifier `yaml:"notifiers"`
	Delivery  fileDelivery   `yaml:"delivery"`
}

type fileMonitor struct {
	Name        string                `yaml:"name"`
	Kind        string                `yaml:"kind"`
	Description string                `yaml:"description"`
	GroupBy     *stringList           `yaml:"group_by"`
	Where       map[string]stringList `yaml:"where"`
	MaxGroups   *int                  `yaml:"max_groups"`
	ARL0        *float64              `yaml:"arl0"`
	Warmup      *int                  `yaml:"warmup"`
	Shift       *float64              `yaml:"shift"`
	Ratio       *float64              `yaml:"ratio"`
	Guard       *float64              `yaml:"guard"`
	Baseline    *float64              `yaml:"baseline"`
	History     *int                  `yaml:"history"`
	Window      *int                  `yaml:"window"`
	Examples    *int                  `yaml:"examples"`
	// Kind-specific keys (kinds lists which kind reads which).
	Verdicts    stringList `yaml:"verdicts"`
	Detectors   stringList `yaml:"detectors"`
	MinSeverity string     `yaml:"min_severity"`
	Rules       stringList `yaml:"rules"`
	Suites      stringList `yaml:"suites"`
	Above       *string    `yaml:"above"`
	Quantile    *float64   `yaml:"quantile"`
}

type fileNotifier struct {
	Name         string            `yaml:"name"`
	Type         string            `yaml:"type"`
	URL          string            `yaml:"url"`
	Headers      map[string]string `yaml:"headers"`
	Monitors     stringList        `yaml:"monitors"`
	SendResolved *bool             `yaml:"send_resolved"`
	Timeout      string            `yaml:"timeout"`
}

type fileDelivery struct {
	InitialBackoff string `yaml:"initial_backoff"`
	MaxBackoff     string `yaml:"max_backoff"`
	GiveUpAfter    string `yaml:"give_up_after"`
}

// stringList accepts one string or a list, so `group_by: service.name` and
// `group_by: [service.name]` mean the same.
type stringList []string

// UnmarshalYAML implements yaml.BytesUnmarshaler.
func (s *stringList) UnmarshalYAML(b []byte) error {
	var one string
	if err := yaml.Unmarshal(b, &one); err == nil {
		if one != "" {
			*s = stringList{one}
		}
		return nil
	}
	var many []string
	if err := yaml.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// ParseOption configures Parse.
type ParseOption func(*parseOptions)

type parseOptions struct {
	detectors []string
	lookupEnv func(string) (string, bool)
}

// WithDetectors sets the detector ids that `detectors: ["*"]` (and a
// detector monitor without a list) expands to: the ids the server's
// analyzer can report, policy rules included ("policy:<rule>"). The default
// is the built-in detectors.
func WithDetectors(ids []string) ParseOption {
	return func(o *parseOptions) { o.detectors = ids }
}

// WithLookupEnv sets how ${NAME} in a notifier's url and headers is
// expanded; the default is os.LookupEnv. A name that is not set is an
// error, so a missing secret is caught at start-up.
func WithLookupEnv(f func(string) (string, bool)) ParseOption {
	return func(o *parseOptions) { o.lookupEnv = f }
}

// Default returns the monitors that ship with Probity (DefaultYAML).
func Default(opts ...ParseOption) (*Config, error) {
	return Parse("(default)", defaultYAML, opts...)
}

// LoadFile reads and parses the monitors file at path.
func LoadFile(path string, opts ...ParseOption) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "monitors file not found"}
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read monitors file", Err: err}
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxConfigBytes+1)); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read monitors file", Err: err}
	}
	return Parse(path, buf.Bytes(), opts...)
}

// Parse parses a monitors file; name is the file name errors carry. Errors
// are *probity.Error values (EINVALID) whose Where is "line L, column C".
func Parse(name string, src []byte, opts ...ParseOption) (*Config, error) {
	o := parseOptions{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	if o.detectors == nil {
		for _, d := range detect.Default() {
			o.detectors = append(o.detectors, d.ID())
		}
	}
	fail := func(err error) (*Config, error) {
		var pe *probity.Error
		if errors.As(err, &pe) {
			pe.File = name
			return nil, pe
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "monitors", Err: err}
	}
	if len(src) > MaxConfigBytes {
		return fail(probity.Errorf(probity.EINVALID, "monitors file is %d bytes, more than the %d allowed", len(src), MaxConfigBytes))
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return fail(probity.Errorf(probity.EINVALID, "empty monitors file: want a monitors: list"))
	}
	var f fileConfig
	astFile, err := decodeYAML(src, &f)
	if err != nil {
		return fail(err)
	}
	loc := locator{f: astFile}
	cfg := &Config{File: name}
	if len(f.Monitors) == 0 {
		return fail(loc.errorf("$", "no monitors: want a monitors: list"))
	}
	names := map[string]int{}
	for i := range f.Monitors {
		at := fmt.Sprintf("$.monitors[%d]", i)
		m, err := buildMonitor(&f.Defaults, &f.Monitors[i], &buildContext{loc: loc, at: at, detectors: o.detectors})
		if err != nil {
			return fail(err)
		}
		if line, dup := names[m.Name]; dup {
			return fail(loc.errorf(at+".name", "duplicate monitor name %q (first defined at line %d)", m.Name, line))
		}
		names[m.Name] = m.Line
		cfg.Monitors = append(cfg.Monitors, m)
	}
	notifierNames := map[string]bool{}
	for i, fn := range f.Notifiers {
		at := fmt.Sprintf("$.notifiers[%d]", i)
		n, err := buildNotifier(fn, loc, at, names, o.lookupEnv)
		if err != nil {
			return fail(err)
		}
		if notifierNames[n.Name] {
			return fail(loc.errorf(at+".name", "duplicate notifier name %q", n.Name))
		}
		notifierNames[n.Name] = true
		cfg.Notifiers = append(cfg.Notifiers, n)
	}
	cfg.Delivery = DeliveryConfig{InitialBackoff: 2 * time.Second, MaxBackoff: 5 * time.Minute, GiveUpAfter: 24 * time.Hour}
	for _, d := range []struct {
		key string
		s   string
		v   *time.Duration
	}{
		{"initial_backoff", f.Delivery.InitialBackoff, &cfg.Delivery.InitialBackoff},
		{"max_backoff", f.Delivery.MaxBackoff, &cfg.Delivery.MaxBackoff},
		{"give_up_after", f.Delivery.GiveUpAfter, &cfg.Delivery.GiveUpAfter},
	} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 {
			return fail(loc.errorf("$.delivery."+d.key, "%s %q: want a positive duration such as 2s or 5m", d.key, d.s))
		}
		*d.v = v
	}
	if cfg.Delivery.MaxBackoff < cfg.Delivery.InitialBackoff {
		return fail(loc.errorf("$.delivery.max_backoff", "max_backoff %s is below initial_backoff %s", cfg.Delivery.MaxBackoff, cfg.Delivery.InitialBackoff))
	}
	return cfg, nil
}

// buildContext locates errors inside one monitor entry.
type buildContext struct {
	loc       locator
	at        string
	detectors []string
}

func (c *buildContext) errorf(key, format string, args ...any) *probity.Error {
	at := c.at
	if key != "" {
		at += "." + key
	}
	return c.loc.errorf(at, format, args...)
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]*$`)

// buildMonitor applies the defaults to one entry and validates it.
func buildMonitor(def, fm *fileMonitor, c *buildContext) (*Monitor, error) {
	m := &Monitor{Name: fm.Name, Kind: fm.Kind, Description: fm.Description, Line: c.loc.line(c.at)}
	if !validName.MatchString(m.Name) {
		return nil, c.errorf("name", "monitor name %q: want letters, digits and . _ : / -, starting with a letter or digit", m.Name)
	}
	spec, ok := kinds[m.Kind]
	if !ok {
		return nil, c.errorf("kind", "unknown kind %q (want one of %s)", m.Kind, kindNames())
	}
	// A key of another kind is a mistake, not something to ignore.
	for _, other := range kindFields(fm) {
		if !slices.Contains(spec.fields, other) {
			return nil, c.errorf(other, "%s does not apply to a %s monitor", other, m.Kind)
		}
	}
	for _, k := range kindFields(def) {
		return nil, c.loc.errorf("$.defaults."+k, "%s is specific to a kind; set it on the monitor", k)
	}
	k, err := spec.build(fm, c)
	if err != nil {
		return nil, err
	}
	m.kind = k
	switch {
	case fm.GroupBy != nil:
		m.GroupBy = *fm.GroupBy
	case def.GroupBy != nil:
		m.GroupBy = *def.GroupBy
	default:
		m.GroupBy = spec.groupBy
	}
	for i, g := range m.GroupBy {
		if g == "" || slices.Contains(m.GroupBy[:i], g) {
			return nil, c.errorf(fmt.Sprintf("group_by[%d]", i), "group_by %q: empty or repeated", g)
		}
		if g == AttrDetector {
			return nil, c.errorf(fmt.Sprintf("group_by[%d]", i), "%q is added by detector monitors themselves", g)
		}
	}
	if len(fm.Where) > 0 {
		m.Where = map[string][]string{}
		for a, vs := range fm.Where {
			m.Where[a] = vs
		}
	}
	pickInt := func(key string, v, d *int, fallback, lo, hi int) (int, error) {
		x := fallback
		if d != nil {
			x = *d
		}
		if v != nil {
			x = *v
		}
		if x < lo || x > hi {
			return 0, c.errorf(key, "%s = %d, want %d to %d", key, x, lo, hi)
		}
		return x, nil
	}
	pickFloat := func(key string, v, d *float64, fallback, lo, hi float64) (float64, error) {
		x := fallback
		if d != nil {
			x = *d
		}
		if v != nil {
			x = *v
		}
		if !(x >= lo && x <= hi) {
			return 0, c.errorf(key, "%s = %v, want %v to %v", key, x, lo, hi)
		}
		return x, nil
	}
	tu := &m.tuning
	tu.Continuous = k.continuous()
	tu.Above = aboveOf(k)
	var errs []error
	collect := func(err error) { errs = append(errs, err) }
	var err1 error
	if m.MaxGroups, err1 = pickInt("max_groups", fm.MaxGroups, def.MaxGroups, 1000, 1, 1_000_000); err1 != nil {
		collect(err1)
	}
	if tu.ARL0, err1 = pickFloat("arl0", fm.ARL0, def.ARL0, 10_000, 100, 10_000_000); err1 != nil {
		collect(err1)
	}
	if tu.Warmup, err1 = pickInt("warmup", fm.Warmup, def.Warmup, 500, 30, 1_000_000); err1 != nil {
		collect(err1)
	}
	if tu.Guard, err1 = pickFloat("guard", fm.Guard, def.Guard, 0.9, 0.5, 0.999); err1 != nil {
		collect(err1)
	}
	if tu.History, err1 = pickInt("history", fm.History, def.History, 1000, 100, 100_000); err1 != nil {
		collect(err1)
	}
	if tu.Window, err1 = pickInt("window", fm.Window, def.Window, 200, 10, tu.History); err1 != nil {
		collect(err1)
	}
	if tu.Examples, err1 = pickInt("examples", fm.Examples, def.Examples, 5, 0, 50); err1 != nil {
		collect(err1)
	}
	if tu.Quantile, err1 = pickFloat("quantile", fm.Quantile, nil, 0.95, 0.5, 0.999); err1 != nil {
		collect(err1)
	}
	ratio, shift := fm.Ratio, fm.Shift
	if ratio == nil && shift == nil {
		ratio, shift = def.Ratio, def.Shift
	}
	switch {
	case ratio != nil && shift != nil:
		collect(c.errorf("ratio", "set shift or ratio, not both"))
	case ratio != nil:
		if tu.Ratio, err1 = pickFloat("ratio", ratio, nil, 0, 1.01, 1000); err1 != nil {
			collect(err1)
		}
	default:
		if tu.Shift, err1 = pickFloat("shift", shift, nil, 0.10, 0.001, 0.9); err1 != nil {
			collect(err1)
		}
	}
	if b := fm.Baseline; b != nil {
		if tu.Continuous && tu.Above == nil {
			collect(c.errorf("baseline", "a fixed baseline needs a fixed threshold (above:) for a %s monitor", m.Kind))
		} else if tu.Baseline, err1 = pickFloat("baseline", b, nil, 0, 1e-6, 0.99); err1 != nil {
			collect(err1)
		}
	}
	if def.Baseline != nil {
		collect(c.loc.errorf("$.defaults.baseline", "baseline is a property of one monitor; set it there"))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return m, nil
}

// kindFields lists the kind-specific keys set in an entry.
func kindFields(fm *fileMonitor) []string {
	var out []string
	v := reflect.ValueOf(fm).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !isKindField(key) || v.Field(i).IsZero() {
			continue
		}
		out = append(out, key)
	}
	return out
}

func isKindField(key string) bool {
	for _, s := range kinds {
		if slices.Contains(s.fields, key) {
			return true
		}
	}
	return false
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func buildNotifier(fn fileNotifier, loc locator, at string, monitors map[string]int, lookup func(string) (string, bool)) (*Notifier, error) {
	n := &Notifier{Name: fn.Name, Type: fn.Type, Monitors: fn.Monitors, SendResolved: true, Timeout: 10 * time.Second, Line: loc.line(at)}
	if !validName.MatchString(n.Name) {
		return nil, loc.errorf(at+".name", "notifier name %q: want letters, digits and . _ : / -", n.Name)
	}
	if _, ok := renderers[n.Type]; !ok {
		return nil, loc.errorf(at+".type", "unknown notifier type %q (want webhook, alertmanager or slack)", n.Type)
	}
	expand := func(key, s string) (string, error) {
		var missing string
		out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			v, ok := lookup(name)
			if !ok && missing == "" {
				missing = name
			}
			return v
		})
		if missing != "" {
			return "", loc.errorf(at+"."+key, "environment variable %s is not set", missing)
		}
		return out, nil
	}
	var err error
	if n.URL, err = expand("url", fn.URL); err != nil {
		return nil, err
	}
	u, perr := url.Parse(n.URL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a secret (Slack's does): never echo it.
		return nil, loc.errorf(at+".url", "url: want an http:// or https:// URL")
	}
	if len(fn.Headers) > 0 {
		n.Headers = map[string]string{}
		for k, v := range fn.Headers {
			if n.Headers[k], err = expand("headers."+k, v); err != nil {
				return nil, err
			}
		}
	}
	for i, m := range n.Monitors {
		if _, ok := monitors[m]; !ok {
			return nil, loc.errorf(fmt.Sprintf("%s.monitors[%d]", at, i), "no monitor named %q", m)
		}
	}
	if fn.SendResolved != nil {
		n.SendResolved = *fn.SendResolved
	}
	if fn.Timeout != "" {
		d, err := time.ParseDuration(fn.Timeout)
		if err != nil || d <= 0 {
			return nil, loc.errorf(at+".timeout", "timeout %q: want a positive duration such as 10s", fn.Timeout)
		}
		n.Timeout = d
	}
	return n, nil
}

// decodeYAML checks the size of src once its aliases are expanded, then
// decodes it strictly and keeps the AST for positions. go-yaml has no
// limit of its own on alias expansion.
func decodeYAML(src []byte, f *fileConfig) (astFile *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			astFile, err = nil, probity.Errorf(probity.EINVALID, "malformed YAML (%v)", r)
		}
	}()
	astFile, err = parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlx.Error(err)
	}
	if n, where := expandedSize(astFile); n > maxConfigNodes {
		e := probity.Errorf(probity.EINVALID, "monitors file expands to more than %d YAML nodes (aliases)", maxConfigNodes)
		e.Where = where
		return nil, e
	}
	if err := yaml.UnmarshalWithOptions(src, f, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlx.Error(err)
	}
	return astFile, nil
}

// expandedSize counts the nodes of f with every alias replaced by what its
// anchor holds, stopping early once past the limit; where locates the
// alias that crossed it.
func expandedSize(f *ast.File) (total int, where string) {
	anchors := map[string]int{}
	var size func(n ast.Node) int
	size = func(n ast.Node) int {
		if n == nil || total > maxConfigNodes {
			return 0
		}
		switch n := n.(type) {
		case *ast.DocumentNode:
			return size(n.Body)
		case *ast.MappingNode:
			s := 1
			for _, v := range n.Values {
				s += size(v)
			}
			return s
		case *ast.MappingValueNode:
			return 1 + size(n.Key) + size(n.Value)
		case *ast.SequenceNode:
			s := 1
			for _, v := range n.Values {
				s += size(v)
			}
			return s
		case *ast.AnchorNode:
			s := size(n.Value)
			anchors[n.Name.String()] = s
			return s
		case *ast.AliasNode:
			s := anchors[n.Value.String()]
			total += s
			if total > maxConfigNodes && where == "" {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					where = fmt.Sprintf("line %d, column %d", tk.Position.Line, tk.Position.Column)
				}
			}
			return s
		case *ast.TagNode:
			return 1 + size(n.Value)
		case *ast.MappingKeyNode:
			return 1 + size(n.Value)
		default:
			return 1
		}
	}
	for _, d := range f.Docs {
		total += size(d)
	}
	return total, where
}

// locator finds the line and column of a YAML path such as
// "$.monitors[2].arl0", falling back to the enclosing node.
type locator struct{ f *ast.File }

func (l locator) pos(at string) (line, col int) {
	for at != "" {
		if p, err := yaml.PathString(at); err == nil {
			if n, err := p.FilterFile(l.f); err == nil && n != nil {
				switch m := n.(type) {
				case *ast.MappingNode:
					if len(m.Values) > 0 {
						n = m.Values[0].Key
					}
				case *ast.MappingValueNode:
					n = m.Key
				}
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		i := strings.LastIndexAny(at, ".[")
		if i <= 1 {
			break
		}
		at = at[:i]
	}
	return 0, 0
}

func (l locator) line(at string) int {
	line, _ := l.pos(at)
	return line
}

func (l locator) errorf(at, format string, args ...any) *probity.Error {
	e := probity.Errorf(probity.EINVALID, format, args...)
	if line, col := l.pos(at); line > 0 {
		e.Where = fmt.Sprintf("line %d, column %d", line, col)
	}
	return e
}
