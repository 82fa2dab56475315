package agent

// The rules wiring: [[derive]], [[rule]] and [[output]] are decoded and
// checked here (expressions compiled at load, errors at the expression's
// own column), and the rules engine sits between the sampler and the
// buffer: the sampler's readings go through it to the ring, and derived
// readings and alarm transitions follow them in. An alarm transition is
// committed at once and wakes the streams that match it (Uplink.Urgent).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/outputs"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/rules"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/karana"
	"github.com/karana-energy/karana-edge/web"
)

// The sections are registered before any init runs (config.go's checks
// them against Config).
var _ = registerRuleSections()

func registerRuleSections() bool {
	listSections["derive"] = listSection{
		decode: func(c *Config, tables []*config.Table) {
			c.Derives = decodeList(tables, func() rules.DeriveConfig { return rules.DeriveConfig{} })
		},
		write: func(w io.Writer, c *Config) error { return writeList(w, "derive", c.Derives) },
	}
	listSections["rule"] = listSection{
		decode: func(c *Config, tables []*config.Table) { c.Rules = decodeList(tables, rules.DefaultRule) },
		write:  func(w io.Writer, c *Config) error { return writeList(w, "rule", c.Rules) },
	}
	listSections["output"] = listSection{
		decode: func(c *Config, tables []*config.Table) { c.Outputs = decodeList(tables, outputs.DefaultConfig) },
		write:  func(w io.Writer, c *Config) error { return writeList(w, "output", c.Outputs) },
	}
	return true
}

// decodeList decodes each table strictly over its defaults and runs the
// item's Validate.
func decodeList[T any, P interface {
	*T
	Validate() error
}](tables []*config.Table, def func() T) []T {
	out := make([]T, 0, len(tables))
	for _, t := range tables {
		v := def()
		t.DecodeStrict(&v)
		t.Fail(P(&v).Validate())
		out = append(out, v)
	}
	return out
}

func writeList[T any](w io.Writer, section string, list []T) error {
	for i := range list {
		io.WriteString(w, "\n[["+section+"]]\n")
		if err := config.WriteKeys(w, &list[i], nil); err != nil {
			return fmt.Errorf("config: %s[%d]: %w", section, i, err)
		}
	}
	return nil
}

// checkRules compiles every expression and checks names across sections:
// duplicates, derived names that clash with alarm./output. series, alarm
// and output series that no rule or output makes, output pins against the
// board.
func (c *Config) checkRules(doc *config.Doc) {
	made := map[string]string{} // series a derive, rule or output makes -> its key
	claim := func(series, key string) {
		if prev, dup := made[series]; dup {
			doc.Errorf(key, "series %q is already made by %s", series, where(doc, prev))
			return
		}
		made[series] = key
	}
	var exprs []exprKey
	for i, d := range c.Derives {
		key := config.IndexKey("derive", i)
		if strings.HasPrefix(d.Name, "alarm.") || strings.HasPrefix(d.Name, "output.") || strings.HasPrefix(d.Name, karana.Name+".") {
			doc.Errorf(key+".name", "series %q: alarm.*, output.* and karana.* are made by rules, outputs and telemetry", d.Name)
		}
		claim(d.Name, key+".name")
		exprs = append(exprs, exprKey{key + ".expr", d.Expr, rules.Number})
	}
	for i, r := range c.Rules {
		key := config.IndexKey("rule", i)
		claim(r.Series(), key+".name")
		exprs = append(exprs, exprKey{key + ".when", r.When, rules.Bool})
		if r.Clear != "" {
			exprs = append(exprs, exprKey{key + ".clear", r.Clear, rules.Bool})
		}
	}
	for i, o := range c.Outputs {
		key := config.IndexKey("output", i)
		claim(o.Series(), key+".name")
		exprs = append(exprs, exprKey{key + ".on", o.On, rules.Bool})
	}
	compiled := map[string]*rules.Expr{}
	for _, x := range exprs {
		if doc.Keys().Has(x.key) || x.src != "" {
			if e := c.compileAt(doc, x); e != nil {
				compiled[x.key] = e
			}
		} else {
			doc.Errorf(x.key, "must be set")
		}
	}
	for key, e := range compiled {
		if len(e.Inputs()) == 0 && !strings.HasSuffix(key, ".on") {
			doc.Errorf(key, "reads no series, so nothing ever evaluates it")
		}
		for _, in := range e.Inputs() {
			c.checkInput(doc, key, in, made)
		}
	}
	if len(compiled) == len(exprs) {
		if _, err := rules.Order(c.Derives); err != nil {
			doc.Errorf("derive", "%v", err)
		}
	}
	c.checkOutputPins(doc)
}

type exprKey struct {
	key, src string
	kind     rules.Kind
}

// compileAt compiles x, reporting an error at its column in the file.
func (c *Config) compileAt(doc *config.Doc, x exprKey) *rules.Expr {
	e, err := rules.Compile(x.src, x.kind)
	if err == nil {
		return e
	}
	var xe *rules.ExprError
	if !errors.As(err, &xe) {
		doc.Errorf(x.key, "%v", err)
		return nil
	}
	start, basic, ok := doc.ValuePos(x.key)
	if !ok {
		doc.Errorf(x.key, "at %d:%d of the expression: %s", xe.Line, xe.Col, xe.Msg)
		return nil
	}
	doc.ErrorAt(x.key, doc.ValueOffset(start, basic, xe.Offset(x.src)), "%s", xe.Msg)
	return nil
}

// checkInput: an alarm or output an expression reads must exist; another
// series that no sensor, derive or telemetry makes is a warning (a
// sensor's field names are its driver's business).
func (c *Config) checkInput(doc *config.Doc, key, in string, made map[string]string) {
	if _, ok := made[in]; ok {
		return
	}
	switch {
	case strings.HasPrefix(in, "alarm."):
		doc.Errorf(key, "reads %q, but no [[rule]] is named %q", in, strings.TrimPrefix(in, "alarm."))
	case strings.HasPrefix(in, "output."):
		doc.Errorf(key, "reads %q, but no [[output]] is named %q", in, strings.TrimPrefix(in, "output."))
	case c.sensorOf(in) == "" && !(strings.HasPrefix(in, karana.Name+".") && c.Telemetry.Interval.Duration > 0):
		doc.Warnf(key, "reads %q, which no sensor, [[derive]] or telemetry makes: it stays missing", in)
	}
}

// sensorOf is the configured sensor whose series name is, "" if none.
func (c *Config) sensorOf(series string) string {
	best := ""
	for _, s := range c.Sensors {
		if strings.HasPrefix(series, s.Name+".") && len(s.Name) > len(best) {
			best = s.Name
		}
	}
	return best
}

// checkOutputPins checks gpio outputs' pins against the board, together
// with the sensors' so that a pin both read and driven is refused.
func (c *Config) checkOutputPins(doc *config.Doc) {
	if c.Board.Name == "" || len(c.Outputs) == 0 {
		return
	}
	var uses []boards.Use
	for _, s := range c.Sensors {
		u := boards.Use{Sensor: s.Name, Driver: s.Driver, Disabled: s.Disabled}
		if bu, ok := s.Options.(sensors.BusUser); ok {
			u.Bus = bu.BusName()
		}
		if pu, ok := s.Options.(sensors.PinUser); ok {
			u.Pins = pu.PinNames()
		}
		uses = append(uses, u)
	}
	for _, o := range c.Outputs {
		// a modbus output's RS-485 port gets the sensors' login-console check
		uses = append(uses, boards.Use{Sensor: "output " + o.Name, Driver: o.Driver + " output", Pins: o.PinNames(), Port: o.Port})
	}
	for _, f := range append(c.Board.Check(uses), c.Board.CheckSerial(systemRoot, uses)...) {
		if f.Use < len(c.Sensors) {
			continue // a sensor's own finding: checkBoard reports it
		}
		key := config.IndexKey("output", f.Use-len(c.Sensors)) + "." + f.Key
		if f.Warning {
			doc.Warnf(key, "%s", f.Msg)
		} else {
			doc.Errorf(key, "%s", f.Msg)
		}
	}
}

// checkRemoteOutputs: a remote document may change [[output]] only with
// "output" in [remote] allow (the section's tag), and never to an exec
// output, whatever allow says: whoever can publish to the broker must not
// run commands on the box.
func checkRemoteOutputs(cur, next *Config, add func(key, format string, args ...any)) {
	for i, o := range next.Outputs {
		if outputs.LocalOnly(o.Driver) && !slices.ContainsFunc(cur.Outputs, func(c outputs.Config) bool { return equalJSON(c, o) }) {
			add(config.IndexKey("output", i)+".driver", "output driver %q runs programs: it may only be set in the local file", o.Driver)
		}
	}
}

// sensorIntervals are the sensors' intervals by name, telemetry's too.
func sensorIntervals(cfg *Config) map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, sc := range cfg.Sensors {
		if !sc.Disabled {
			m[sc.Name] = sc.Interval.Duration
		}
	}
	if iv := cfg.Telemetry.Interval.Duration; iv > 0 {
		m[karana.Name] = iv
	}
	return m
}

// seriesInterval is the sampling interval of a sensor's series (the
// longest sensor-name prefix), or 0.
func seriesInterval(ivs map[string]time.Duration) func(string) time.Duration {
	return func(name string) time.Duration {
		best, iv := "", time.Duration(0)
		for s, d := range ivs {
			if strings.HasPrefix(name, s+".") && len(s) > len(best) {
				best, iv = s, d
			}
		}
		return iv
	}
}

// rulesHost is the sampler's sink: the rules engine in front of the ring,
// or the ring alone when no rule is configured. The engine is replaced
// when a config changes the rules; the sampler keeps its sink.
type rulesHost struct {
	a   *Agent
	log *slog.Logger

	mu     sync.Mutex
	engine *rules.Engine
	cfg    rulesConfig
}

// rulesConfig is what the engine is built from.
type rulesConfig struct {
	Derives []rules.DeriveConfig
	Rules   []rules.RuleConfig
	Outputs []outputs.Config
	// Intervals are the sensors' (staleness and slot waits follow them).
	Intervals map[string]time.Duration
}

func rulesOf(c *Config) rulesConfig {
	return rulesConfig{c.Derives, c.Rules, c.Outputs, sensorIntervals(c)}
}

func (rc rulesConfig) empty() bool {
	return len(rc.Derives)+len(rc.Rules)+len(rc.Outputs) == 0
}

func newRulesHost(a *Agent, cfg *Config) (*rulesHost, error) {
	h := &rulesHost{a: a, log: a.log.With("component", "rules")}
	return h, h.apply(cfg)
}

// apply builds the engine for cfg's rules, unless they did not change.
// The old engine hands over the outputs configured as before (state and
// min_switch hold kept) and puts the others in their safe state: two
// engines never drive one pin.
func (h *rulesHost) apply(cfg *Config) error {
	rc := rulesOf(cfg)
	// The engine is built outside mu: rebuilding its windows reads the
	// buffer, and the sampler must not wait on that (its readings reach
	// the ring meanwhile). Calls are serialised by the agent's applyMu.
	h.mu.Lock()
	old := h.engine
	if old != nil && reflect.DeepEqual(rc, h.cfg) {
		h.mu.Unlock()
		return nil
	}
	h.engine, h.cfg = nil, rc
	h.mu.Unlock()
	var kept map[string]*outputs.Output
	if old != nil {
		kept = old.Handover(rc.Outputs)
	}
	if rc.empty() {
		return nil
	}
	e, err := rules.New(rules.Options{
		Derives: rc.Derives, Rules: rc.Rules, Outputs: rc.Outputs,
		Interval: seriesInterval(rc.Intervals),
		Store:    ruleStore{h.a.ring, h.a.latest},
		Log:      h.log,
		Synced:   h.a.sampleSynced,
		Urgent:   h.urgent,
		Adopt:    kept,
	})
	if err != nil {
		for _, o := range kept { // nobody drives them now: safe
			o.Shutdown(time.Now())
		}
		return fmt.Errorf("rules: %w", err)
	}
	h.mu.Lock()
	h.engine = e
	h.mu.Unlock()
	return nil
}

func (h *rulesHost) current() *rules.Engine {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engine
}

// Append implements sensors.Sink: the sampler's readings go through the
// engine, which passes them on with what it derives from them.
func (h *rulesHost) Append(rs []reading.Reading) {
	if e := h.current(); e != nil {
		e.Append(rs)
		return
	}
	h.a.latest.Append(rs)
}

// ruleStore is the buffer as the engine sees it: what it appends reaches
// the ring through the page's newest-value table, so derived series,
// alarms and output switches show there like sensors' readings.
type ruleStore struct {
	*buffer.Ring
	latest *web.Latest
}

func (s ruleStore) Append(rs []reading.Reading) { s.latest.Append(rs) }

func (s ruleStore) AppendState(rs []reading.Reading, key string, value []byte) {
	s.Ring.AppendState(rs, key, value)
	s.latest.Note(rs)
}

// urgent commits the alarm now, then wakes the streams that match it; off
// the sampler's goroutine, which must not wait for the SD card.
func (h *rulesHost) urgent(series string) {
	go func() {
		if err := h.a.ring.Flush(); err != nil {
			h.log.Warn("alarm commit failed; it is sent after the next commit", "series", series, "err", err)
		}
		if _, _, up := h.a.parts(); up != nil {
			up.Urgent(series)
		}
	}()
}

// run ticks the engine every second until ctx is done: results that
// waited for a late input, inputs gone stale, outputs' holds ending.
func (h *rulesHost) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if e := h.current(); e != nil {
			e.Tick()
		}
	}
}

// close puts the outputs in their safe state (shutdown).
func (h *rulesHost) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.engine != nil {
		h.engine.Close()
	}
}

// severity is the uplink's Options.Severity.
func (h *rulesHost) severity(series string) string {
	if !strings.HasPrefix(series, "alarm.") {
		return ""
	}
	if e := h.current(); e != nil {
		return e.Severity(series)
	}
	return ""
}

// addAlarms adds the rules' states to the status document: "alarms", each
// rule's state, and "alarms_active", the raised ones' names.
func (h *rulesHost) addAlarms(m map[string]any) {
	e := h.current()
	if e == nil {
		return
	}
	list := e.Alarms()
	active := []string{}
	for _, a := range list {
		if a.Raised {
			active = append(active, a.Rule)
		}
	}
	m["alarms"] = list
	m["alarms_active"] = active
}

// rulesMatch reports whether glob g matches a series the rules make:
// a derived series, alarm.<rule>, output.<name>.
func (c *Config) rulesMatch(g string) bool {
	var names []string
	for _, d := range c.Derives {
		names = append(names, d.Name)
	}
	for _, r := range c.Rules {
		names = append(names, r.Series())
	}
	for _, o := range c.Outputs {
		names = append(names, o.Series())
	}
	for _, n := range names {
		if ok, _ := path.Match(g, n); ok {
			return true
		}
	}
	return false
}
