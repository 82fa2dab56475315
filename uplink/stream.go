package uplink

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// After a buffer read or format error the stream tries the same range
// again after retryDelay, doubling per failure up to retryMax, and from
// retryDelay again once a batch is built: such errors are not the link's
// fault, so the session stays up, but a formatter that keeps failing (an
// exec command printing past its cap) must not cost a core retrying every
// second. The failure is logged when it starts and then every
// failLogEvery at most.
const (
	retryDelay   = time.Second
	retryMax     = 5 * time.Minute
	failLogEvery = 10 * time.Minute
)

// budgetRecheck bounds the wait of a stream held by the data budget: the
// clock may be set (NTP) while it waits.
const budgetRecheck = time.Minute

// appender is the optional fast path of a formatter (format.JSON has it):
// the payload is written into a buffer the uplink reuses once the broker
// has acknowledged it.
type appender interface {
	AppendFormat(dst []byte, b *format.Batch) ([]byte, error)
}

// contextFormatter is the optional form of a formatter that runs
// something which must stop with the stream (format.Exec's command).
type contextFormatter interface {
	FormatContext(ctx context.Context, b *format.Batch) ([]byte, error)
}

var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

// stream is one [[stream]]: its own goroutine, cursor, format and topic.
type stream struct {
	u     *Uplink
	cfg   StreamConfig
	name  string
	topic string
	f     format.Formatter
	app   appender // nil when the formatter has no AppendFormat
	all   bool     // a "*" glob: every valid series name matches
	cache map[string]bool
	flush chan struct{}

	ctxf     contextFormatter // nil when the formatter has no FormatContext
	compress string           // payload compression, "" for none
	fns      []string         // aggregate functions; nil for a raw stream
	aggName  string           // the window as batches carry it, "" for raw
	maxBytes int              // max_batch_bytes, 0: no bound

	cursor   atomic.Uint64
	batches  atomic.Uint64
	readings atomic.Uint64
	bytes    atomic.Uint64
	dropped  atomic.Uint64
	resends  atomic.Uint64
	splits   atomic.Uint64 // batches built again smaller for max_batch_bytes
	draining atomic.Bool   // has a backlog since the link came back (priority.go)
	quiet    atomic.Uint64 // last committed seq when the stream last had nothing left to send
	scanned  atomic.Uint64 // essentialPending looked up to here (windows.go)

	win    inflight   // the window and spans sent ahead; the run goroutine's alone (inflight.go)
	policy sendPolicy // when it may publish, and what; the run goroutine's alone (policy.go)
	pub    publisher  // rate limit, publish, meter (publish.go)

	// after waits before a batch that failed to build is tried again;
	// time.After, replaced in tests. buildFails and failLogged are the run
	// goroutine's alone.
	after      func(time.Duration) <-chan time.Time
	buildFails int
	failLogged time.Time

	mu          sync.Mutex
	lastPublish time.Time
	lastErr     string
}

func newStream(u *Uplink, cfg StreamConfig) (*stream, error) {
	f, err := format.Configure(cfg.Format, cfg.FormatOptions())
	if err != nil {
		return nil, fmt.Errorf("format %q: %w", cfg.Format, err)
	}
	s := &stream{
		u:     u,
		cfg:   cfg,
		name:  cfg.Name,
		topic: u.opts.Topic(cfg.TopicLevels()...),
		f:     f,
		all:   slices.Contains(cfg.Match, "*"),
		cache: map[string]bool{},
		flush: make(chan struct{}, 1),
		after: time.After,
		win:   newInflight(u.cfg.Inflight),
	}
	s.policy.newestFirst = cfg.Backfill == BackfillNewestFirst
	s.pub = publisher{topic: s.topic, limiter: u.limiter, meter: u.meter}
	s.app, _ = f.(appender)
	s.ctxf, _ = f.(contextFormatter)
	if cfg.Compress != format.CompressNone && cfg.Compress != "" {
		s.compress = cfg.Compress
	}
	s.fns, s.aggName = cfg.AggregateFunctions(), cfg.AggregateName()
	s.maxBytes = int(cfg.MaxBatchBytes)
	s.cursor.Store(u.src.Cursor(cfg.Name))
	return s, nil
}

func (s *stream) poke() {
	select {
	case s.flush <- struct{}{}:
	default:
	}
}

// run serves every session in turn until ctx is done.
func (s *stream) run(ctx context.Context) {
	var sub <-chan struct{}
	var tick <-chan time.Time
	if p := s.cfg.Period.Duration; p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		tick = t.C
	} else {
		sub = s.u.src.Subscribe()
	}
	var prev *session
	for {
		sess, changed := s.u.current()
		if sess != nil && sess != prev && !sess.lost() {
			prev = sess
			if err := s.serve(ctx, sess, sub, tick); err != nil && ctx.Err() == nil {
				s.setErr(err)
				s.u.log.Info("uplink: stream failed; it resends from its cursor after reconnecting",
					"stream", s.name, "broker", s.u.cfg.Broker, "error", err)
				sess.end(fmt.Errorf("stream %s: %w", s.name, err))
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// serve streams on one session: it reads from the cursor, keeps up to
// Inflight batches unacknowledged, and moves the cursor over the leading
// acknowledged batches only. It returns nil when the session or ctx ends and
// an error when this stream gives up on the session (a failed publish or a
// PUBACK timeout); either way the window is dropped and the next session
// starts again from the cursor.
func (s *stream) serve(ctx context.Context, sess *session, sub <-chan struct{}, tick <-chan time.Time) error {
	src := s.u.src
	cursor := src.Cursor(s.name)
	s.cursor.Store(cursor)
	w := &s.win
	w.start(cursor, s.tailFrom())
	defer func() { s.resends.Add(uint64(w.fail())) }()

	timeout := s.u.cfg.PublishTimeout.Duration
	timer := time.NewTimer(timeout)
	timer.Stop()
	defer timer.Stop()
	pol := &s.policy
	pol.begin(w.tail > 0)

	for {
		if ctx.Err() != nil || sess.lost() {
			return nil
		}
		if err := s.ackDone(); err != nil {
			return s.lostErr(sess, err)
		}

		// fill the window: back to back while a backlog remains
		for {
			v := pol.next(w.full(), w.tail > 0, s)
			if v.budget {
				if v.newHold {
					s.u.log.Warn("uplink: data budget spent; stream waits in the buffer (not essential)",
						"stream", s.name, "budget", s.u.cfg.Budget.String(), "resumes_in", v.resumesIn.Round(time.Second))
					s.wakeLower() // its backlog no longer holds lower priorities back
				}
				pol.retry = time.After(v.recheck)
			}
			if v.lane == laneNone {
				break
			}
			if v.lane == laneBacklog && w.stepSpan() {
				continue
			}
			var nb built
			var err error
			isTail := v.lane == laneTail
			if isTail {
				nb, err = s.build(ctx, w.tail, w.tail, 0)
			} else {
				_, last := src.Bounds()
				pol.readingBacklog(last)
				nb, err = s.build(ctx, w.next, w.rangeStart, w.stop())
			}
			if err != nil && ctx.Err() != nil {
				return nil // stopping: an exec command was killed with the stream
			}
			if err != nil {
				// a read or format error leaves next, rangeStart and the
				// cursor where they are: the same range is read and
				// formatted again after a backoff (an exec command that
				// failed is run again)
				pol.retry = s.buildFailed(w.next, err)
				break
			}
			s.buildOK()
			if isTail {
				if pol.tailBuilt(nb.more); nb.last < w.tail {
					continue
				}
			} else {
				pol.backlogBuilt(nb.more, nb.last < w.next)
				if !nb.more {
					s.drained()
				}
				if nb.last < w.next {
					continue // nothing (complete) to send yet
				}
			}
			if nb.payload == nil {
				w.skip(nb.last, isTail)
				continue
			}
			p, err := s.pub.send(ctx, sess, &nb)
			if err != nil {
				return stopped(err)
			}
			p.ahead = isTail
			w.add(p)
		}

		if w.headComplete() {
			continue // acknowledged already, or nothing to publish: ack and refill now
		}
		if pol.idle(w.empty(), w.tail > 0) {
			s.quiet.Store(pol.readTo) // all sent that can be, up to there
		}

		var headDone <-chan struct{}
		var expired <-chan time.Time
		if p := w.head(); p != nil {
			headDone = p.tok.Done()
			timer.Reset(time.Until(p.sent.Add(timeout)))
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sess.done:
			return nil
		case <-headDone:
		case <-expired:
			p := w.head()
			return fmt.Errorf("no PUBACK for batch %d..%d within %s", p.first, p.last, timeout)
		case <-tick:
			pol.signal(w.tail > 0)
		case _, ok := <-sub:
			pol.signal(w.tail > 0)
			if !ok {
				sub = nil
			}
		case <-s.flush:
			pol.signal(w.tail > 0)
		case <-pol.retry:
			pol.retried(w.tail > 0)
		}
		timer.Stop()
	}
}

// stopped is nil for errStopped: the stream stops quietly.
func stopped(err error) error {
	if errors.Is(err, errStopped) {
		return nil
	}
	return err
}

// lostErr turns a token error into nil when the session is already known
// lost (paho fails every pending token then), so that only the stream that
// saw a genuine failure reports it.
func (s *stream) lostErr(sess *session, err error) error {
	if sess.lost() {
		return nil
	}
	return err
}

// checkOrder guards the dropped arithmetic against a source that breaks its
// contract: seqs must ascend strictly from at least from.
func checkOrder(rs []reading.Reading, from uint64) error {
	prev := from - 1
	for i := range rs {
		if rs[i].Seq <= prev {
			return fmt.Errorf("source returned seq %d after %d (want ascending from %d)", rs[i].Seq, prev, from)
		}
		prev = rs[i].Seq
	}
	return nil
}

func (s *stream) filter(rs []reading.Reading) []reading.Reading {
	if s.all {
		return rs
	}
	out := make([]reading.Reading, 0, len(rs))
	for i := range rs {
		if s.matches(rs[i].Name) {
			out = append(out, rs[i])
		}
	}
	return out
}

// matches applies the globs with a per-name cache: a box has tens of series,
// and path.Match per reading per glob would cost more than formatting.
func (s *stream) matches(name string) bool {
	if m, ok := s.cache[name]; ok {
		return m
	}
	m := false
	for _, g := range s.cfg.Match {
		if ok, _ := path.Match(g, name); ok {
			m = true
			break
		}
	}
	if len(s.cache) < 4096 {
		s.cache[name] = m
	}
	return m
}

// format returns the payload for b, compressed when the stream says so,
// and the pooled buffer holding it (nil when not pooled).
func (s *stream) format(ctx context.Context, b *format.Batch) ([]byte, *[]byte, error) {
	raw, rawBuf, err := s.formatRaw(ctx, b)
	if err != nil || s.compress == "" {
		return raw, rawBuf, err
	}
	bp := payloadPool.Get().(*[]byte)
	out, err := format.AppendCompressed(s.compress, (*bp)[:0], raw)
	if rawBuf != nil {
		payloadPool.Put(rawBuf)
	}
	if err != nil {
		payloadPool.Put(bp)
		return nil, nil, err
	}
	*bp = out
	return out, bp, nil
}

func (s *stream) formatRaw(ctx context.Context, b *format.Batch) ([]byte, *[]byte, error) {
	switch {
	case s.ctxf != nil:
		out, err := s.ctxf.FormatContext(ctx, b)
		return out, nil, err
	case s.app == nil:
		out, err := s.f.Format(b)
		return out, nil, err
	}
	bp := payloadPool.Get().(*[]byte)
	out, err := s.app.AppendFormat((*bp)[:0], b)
	if err != nil {
		payloadPool.Put(bp)
		return nil, nil, err
	}
	*bp = out
	return out, bp, nil
}

func (s *stream) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.mu.Unlock()
}

// backlog is the number of buffered readings past the stream's cursor.
func (s *stream) backlog() uint64 {
	first, last := s.u.src.Bounds()
	c := s.cursor.Load()
	if first > 0 {
		c = max(c, first-1)
	}
	if last > c {
		return last - c
	}
	return 0
}

// buildFailed records a batch that could not be read or formatted and
// returns when to try again.
func (s *stream) buildFailed(from uint64, err error) <-chan time.Time {
	s.setErr(err)
	s.buildFails++
	d := retryDelay << min(s.buildFails-1, 16) // 16: no overflow, far past retryMax
	d = min(d, retryMax)
	if now := s.u.now(); s.buildFails == 1 || now.Sub(s.failLogged) >= failLogEvery {
		s.failLogged = now
		s.u.log.Warn("uplink: batch not built; retrying", "stream", s.name, "from", from,
			"failures", s.buildFails, "retry_in", d, "error", err)
	}
	return s.after(d)
}

// buildOK records a batch built, ending a run of failures.
func (s *stream) buildOK() {
	if s.buildFails > 0 {
		s.u.log.Info("uplink: batch built again", "stream", s.name, "after_failures", s.buildFails)
		s.buildFails = 0
	}
}
