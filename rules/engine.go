package rules

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/outputs"
	"github.com/karana-energy/karana-edge/reading"
)

// Store is what the engine needs from the buffer (buffer.Ring): it
// appends readings like the sampler does, persists alarm states in the
// same commit as their reading, and is read back at start to rebuild the
// windows.
type Store interface {
	Append([]reading.Reading)
	// AppendState appends rs and sets the state key to value atomically:
	// one commit takes both or neither.
	AppendState(rs []reading.Reading, key string, value []byte)
	GetState(key string) ([]byte, bool)
	Read(from uint64, max int) ([]reading.Reading, error)
	Bounds() (first, last uint64)
}

// Options configure an Engine.
type Options struct {
	Derives []DeriveConfig
	Rules   []RuleConfig
	Outputs []outputs.Config
	// Interval is an input series' sampling interval (its sensor's), 0
	// when unknown; staleness (3 × it) and the wait for inputs of the same
	// slot follow from it.
	Interval func(series string) time.Duration
	Store    Store
	Log      *slog.Logger
	// Now is the wall clock; nil: time.Now. Tests step it.
	Now func() time.Time
	// Synced flags outputs' readings taken without inputs (start,
	// shutdown); nil: synced.
	Synced func() bool
	// Urgent is told each alarm transition once its reading is appended:
	// the wiring commits it and wakes the streams that match it.
	Urgent func(series string)
	// OpenOutput opens an output's driver; nil: outputs.Open.
	OpenOutput func(outputs.Config) (outputs.Driver, error)
	// Adopt are outputs a previous engine hands over (Handover) by name:
	// they keep their state and min_switch hold instead of passing by
	// safe, so a config change elsewhere never toggles a relay.
	Adopt map[string]*outputs.Output
}

// Grace is how long a result waits for an input that is due in the same
// slot (two sensors read at the same instant append one after the
// other) before it is computed without it.
const Grace = 2 * time.Second

// unknownInterval stands in for an input whose interval nobody told: it
// only bounds staleness.
const unknownInterval = time.Minute

// trigger is when a derive or rule has new input to evaluate.
type trigger struct {
	pendT    int64     // newest input time not yet evaluated; 0: none
	markedAt time.Time // wall time it became pending
	lastT    int64     // time of the last evaluation
}

type derive struct {
	cfg      DeriveConfig
	e        *Expr
	interval time.Duration
	trigger
	errLogged bool
}

type rule struct {
	rc          RuleConfig
	when, clear *Expr
	trigger
	known     bool  // state known (evaluated, or restored)
	raised    bool  // alarm up
	since     int64 // time of the last transition
	holdFrom  int64 // when became true while cleared; 0: not holding
	stale     bool
	errLogged bool
}

type output struct {
	o         *outputs.Output
	e         *Expr
	cause     string
	errLogged bool
	openErr   error
	setErr    string // the last failed write, logged once until it changes
}

// Engine evaluates derived series, rules and outputs on every reading the
// sampler produces. It is the sampler's sink: readings go on to the
// Store, and the results follow them.
type Engine struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	ser      map[string]*series
	interval map[string]time.Duration
	readers  map[string][]*trigger
	derives  []*derive
	rules    []*rule
	outs     []*output
	alarms   map[string]*rule   // by series alarm.<name>
	outBy    map[string]*output // by series output.<name>
	maxAge   time.Duration      // the evaluating expression's max_age; 0: per input
	closed   bool

	// produced by one pass, appended after the lock is released
	out    []reading.Reading
	trans  []transition
	urgent []string
}

type transition struct {
	r     reading.Reading
	key   string
	value []byte
}

// New compiles every expression, restores alarm states, rebuilds windows
// from the store and puts every output in its safe state.
func New(o Options) (*Engine, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Synced == nil {
		o.Synced = func() bool { return true }
	}
	if o.Interval == nil {
		o.Interval = func(string) time.Duration { return 0 }
	}
	if o.OpenOutput == nil {
		o.OpenOutput = outputs.Open
	}
	e := &Engine{o: o, log: o.Log, ser: map[string]*series{}, interval: map[string]time.Duration{},
		readers: map[string][]*trigger{}, alarms: map[string]*rule{}, outBy: map[string]*output{}}
	if err := e.compile(); err != nil {
		return nil, err
	}
	e.restore()
	e.rebuild()
	e.openOutputs()
	e.mu.Lock()
	e.evalOutputs(o.Now())
	e.mu.Unlock()
	e.emit()
	return e, nil
}

func (e *Engine) compile() error {
	derived := map[string]*derive{}
	for _, dc := range e.o.Derives {
		x, err := Compile(dc.Expr, Number)
		if err != nil {
			return fmt.Errorf("derive %s: expr: %w", dc.Name, err)
		}
		d := &derive{cfg: dc, e: x}
		derived[dc.Name] = d
	}
	order, err := topoOrder(e.o.Derives, derived)
	if err != nil {
		return err
	}
	for _, name := range order {
		d := derived[name]
		e.derives = append(e.derives, d)
		e.watch(d.e, &d.trigger)
		d.interval = d.cfg.MinInterval.Duration
		for _, in := range d.e.Inputs() {
			d.interval = max(d.interval, e.intervalOf(in))
		}
		e.interval[d.cfg.Name] = d.interval
	}
	for _, rc := range e.o.Rules {
		r := &rule{rc: rc}
		if r.when, err = Compile(rc.When, Bool); err != nil {
			return fmt.Errorf("rule %s: when: %w", rc.Name, err)
		}
		if rc.Clear != "" {
			if r.clear, err = Compile(rc.Clear, Bool); err != nil {
				return fmt.Errorf("rule %s: clear: %w", rc.Name, err)
			}
			e.watch(r.clear, &r.trigger)
		}
		e.watch(r.when, &r.trigger)
		e.rules = append(e.rules, r)
		e.alarms[rc.Series()] = r
	}
	for _, oc := range e.o.Outputs {
		x, err := Compile(oc.On, Bool)
		if err != nil {
			return fmt.Errorf("output %s: on: %w", oc.Name, err)
		}
		out := &output{e: x}
		e.outs = append(e.outs, out)
		e.outBy[oc.Series()] = out
		for _, in := range x.Inputs() {
			e.seriesFor(in)
		}
	}
	return nil
}

// topoOrder orders derives so that each comes after those it reads.
func topoOrder(list []DeriveConfig, by map[string]*derive) ([]string, error) {
	state := map[string]int{} // 1 visiting, 2 done
	var out []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("derive %s: reads itself through %s", name, strings.Join(append(path, name), " → "))
		case 2:
			return nil
		}
		state[name] = 1
		for _, in := range by[name].e.Inputs() {
			if _, ok := by[in]; ok {
				if err := visit(in, append(path, name)); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		out = append(out, name)
		return nil
	}
	for _, d := range list {
		if err := visit(d.Name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Engine) intervalOf(name string) time.Duration {
	if iv, ok := e.interval[name]; ok {
		return iv
	}
	return e.o.Interval(name)
}

func (e *Engine) seriesFor(name string) *series {
	s := e.ser[name]
	if s == nil {
		s = &series{}
		e.ser[name] = s
	}
	return s
}

// watch makes x's inputs trigger t, and keeps the windows x reads.
func (e *Engine) watch(x *Expr, t *trigger) {
	for _, in := range x.Inputs() {
		e.seriesFor(in)
		e.readers[in] = append(e.readers[in], t)
	}
	for in, d := range x.Windows {
		s := e.seriesFor(in)
		s.keep = max(s.keep, d)
	}
}

// Append is the sampler's sink: it passes rs to the store, then evaluates
// what they trigger.
func (e *Engine) Append(rs []reading.Reading) {
	e.o.Store.Append(rs)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	now := e.o.Now()
	for i := range rs {
		e.ingest(&rs[i], now)
	}
	e.pass(now, false)
	e.mu.Unlock()
	e.emit()
}

// Tick evaluates what waited for an input past Grace, notices inputs gone
// stale, and re-drives outputs (a min_switch hold that ended). The wiring
// calls it every second.
func (e *Engine) Tick() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	now := e.o.Now()
	e.pass(now, true)
	e.checkStale(now)
	e.mu.Unlock()
	e.emit()
}

func (e *Engine) ingest(r *reading.Reading, now time.Time) {
	s := e.ser[r.Name]
	if s == nil {
		return
	}
	t := r.Time.UnixNano()
	s.add(point{t: t, v: r.Value, flags: r.Flags})
	s.missing = false
	for _, tr := range e.readers[r.Name] {
		if t+int64(ClockStepBack) < tr.lastT {
			tr.lastT, tr.pendT = 0, 0 // the clock went back: start again from here
		}
		if t > tr.lastT && t > tr.pendT {
			if tr.pendT == 0 {
				tr.markedAt = now
			}
			tr.pendT = t
		}
	}
}

// pass evaluates every pending derive (in dependency order) and rule
// whose inputs of the slot are in, or waited past Grace when late, then
// the outputs.
func (e *Engine) pass(now time.Time, late bool) {
	for _, d := range e.derives {
		if e.due(&d.trigger, d.e, now, late) {
			e.evalDerive(d, now)
		}
	}
	for _, r := range e.rules {
		if r.pendT != 0 && (e.ready(&r.trigger, r.when) && (r.clear == nil || e.ready(&r.trigger, r.clear)) ||
			late && now.Sub(r.markedAt) >= Grace) {
			e.evalRule(r)
		}
	}
	e.evalOutputs(now)
}

func (e *Engine) due(t *trigger, x *Expr, now time.Time, late bool) bool {
	if t.pendT == 0 {
		return false
	}
	return e.ready(t, x) || (late && now.Sub(t.markedAt) >= Grace)
}

// ready reports whether every input x reads as a latest value has its
// reading for the pending time in, or is not due by then.
func (e *Engine) ready(t *trigger, x *Expr) bool {
	for _, name := range x.Latest {
		if e.alarms[name] != nil || e.outBy[name] != nil {
			continue
		}
		s := e.ser[name]
		if !s.has {
			return false // not read yet since start: wait (Grace) for it
		}
		if s.newest.t >= t.pendT {
			continue
		}
		if s.newest.t+int64(e.intervalOf(name)) <= t.pendT {
			return false // its reading of this slot is due: wait for it
		}
	}
	return true
}

func (e *Engine) evalDerive(d *derive, now time.Time) {
	at := d.pendT
	d.pendT = 0
	if d.lastT != 0 && at-d.lastT < int64(max(d.cfg.MinInterval.Duration, 1)) {
		return
	}
	d.lastT = at
	e.maxAge = d.cfg.MaxAge.Duration
	v, _, flags, ok, err := d.e.eval(e, time.Unix(0, at))
	e.maxAge = 0
	if err != nil && !d.errLogged {
		e.log.Error("derive failed; its series is missing until it evaluates", "derive", d.cfg.Name, "err", err)
		d.errLogged = true
	}
	s := e.seriesFor(d.cfg.Name)
	if !ok {
		s.missing = true
		return
	}
	d.errLogged = false
	r := reading.Reading{Name: d.cfg.Name, Time: time.Unix(0, at).UTC(), Value: v, Unit: d.cfg.Unit, Flags: flags}
	e.out = append(e.out, r)
	e.ingest(&r, now)
}

// emit appends what a pass produced: derived and output readings, then
// each alarm transition with its state in the same commit; then tells
// Urgent.
func (e *Engine) emit() {
	e.mu.Lock()
	out, trans, urgent := e.out, e.trans, e.urgent
	e.out, e.trans, e.urgent = nil, nil, nil
	e.mu.Unlock()
	if len(out) > 0 {
		e.o.Store.Append(out)
	}
	for _, t := range trans {
		e.o.Store.AppendState([]reading.Reading{t.r}, t.key, t.value)
	}
	if e.o.Urgent != nil {
		for _, s := range urgent {
			e.o.Urgent(s)
		}
	}
}

// value implements source: a series' newest value when fresh at at; an
// alarm's state unless its rule is stale or unknown; an output's state.
func (e *Engine) value(name string, at time.Time) (float64, reading.Flags, bool) {
	if r := e.alarms[name]; r != nil {
		if !r.known || r.stale {
			return 0, 0, false
		}
		return b2f(r.raised), 0, true
	}
	if out := e.outBy[name]; out != nil && out.o != nil {
		return b2f(out.o.On()), 0, true
	}
	s := e.ser[name]
	if s == nil || !s.has || s.missing {
		return 0, 0, false
	}
	age := at.UnixNano() - s.newest.t
	if age > int64(e.maxAgeOf(name)) {
		return 0, 0, false
	}
	return s.newest.v, s.newest.flags, true
}

func (e *Engine) maxAgeOf(name string) time.Duration {
	if e.maxAge > 0 {
		return e.maxAge
	}
	iv := e.intervalOf(name)
	if iv <= 0 {
		iv = unknownInterval
	}
	return 3 * iv
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (e *Engine) newest(name string) (point, bool) {
	s := e.ser[name]
	if s == nil || !s.has {
		return point{}, false
	}
	return s.newest, true
}

func (e *Engine) window(name string, d time.Duration, at time.Time) ([]point, time.Duration, bool) {
	s := e.ser[name]
	if s == nil {
		return nil, 0, false
	}
	pts, ok := s.window(d, at)
	return pts, e.maxAgeOf(name), ok
}

// Order returns the derives' names in evaluation order (each after the
// derives it reads), or the cycle that makes one impossible.
func Order(list []DeriveConfig) ([]string, error) {
	by := map[string]*derive{}
	for _, dc := range list {
		x, err := Compile(dc.Expr, Number)
		if err != nil {
			return nil, fmt.Errorf("derive %s: expr: %w", dc.Name, err)
		}
		by[dc.Name] = &derive{cfg: dc, e: x}
	}
	return topoOrder(list, by)
}
