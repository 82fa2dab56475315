package uplink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	f, err := cfg.Formatter()
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

// signals tell a stream that readings may be waiting.
type signals struct {
	sub  <-chan struct{}  // buffer commits (period 0); nil once closed
	tick <-chan time.Time // the period
}

// run serves every session in turn until ctx is done.
func (s *stream) run(ctx context.Context) {
	var sig signals
	if p := s.cfg.Period.Duration; p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		sig.tick = t.C
	} else {
		sig.sub = s.u.src.SubscribeCtx(ctx)
	}
	var prev *session
	for {
		sess, changed := s.u.current()
		if sess != nil && sess != prev && !sess.lost() {
			prev = sess
			if err := s.serve(ctx, sess, sig); err != nil && ctx.Err() == nil {
				s.setErr(err)
				s.u.log.Info("stream failed; it resends from its cursor after reconnecting",
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
//
// The parts: the window (inflight.go), the policy saying what may go when
// (policy.go), the batches (build.go), the publish and ack path
// (publish.go).
func (s *stream) serve(ctx context.Context, sess *session, sig signals) error {
	cursor := s.u.src.Cursor(s.name)
	s.cursor.Store(cursor)
	s.win.start(cursor, s.tailFrom())
	s.policy.begin(s.win.tail > 0)
	defer func() { s.resends.Add(uint64(s.win.fail())) }()
	timer := time.NewTimer(time.Hour) // the oldest batch's PUBACK timeout
	timer.Stop()
	defer timer.Stop()

	for ctx.Err() == nil && !sess.lost() {
		if err := s.ackDone(); err != nil {
			return s.lostErr(sess, err)
		}
		if err := s.fill(ctx, sess); err != nil {
			return stopped(err)
		}
		if s.win.headComplete() {
			continue // acknowledged already, or nothing to publish: ack and refill now
		}
		if s.policy.idle(s.win.empty(), s.win.tail > 0) {
			s.quiet.Store(s.policy.readTo) // all sent that can be, up to there
		}
		if err := s.await(ctx, sess, &sig, timer); err != nil {
			return stopped(err)
		}
	}
	return nil
}

// fill publishes batch after batch while the policy lets it: back to back
// while a backlog remains, up to a full window. errStopped or the error
// that ends the session.
func (s *stream) fill(ctx context.Context, sess *session) error {
	for {
		v := s.policy.next(s.win.full(), s.win.tail > 0, s)
		switch {
		case v.budget:
			s.budgetHeld(v)
			return nil
		case v.lane == laneNone:
			return nil
		case v.lane == laneBacklog && s.win.stepSpan():
			continue
		}
		nb, err := s.buildNext(ctx, v.lane)
		if err != nil {
			if ctx.Err() != nil {
				return errStopped // an exec command was killed with the stream
			}
			// a read or format error leaves the window and the cursor
			// where they are: the same range is read and formatted again
			// after a backoff (an exec command that failed is run again)
			s.policy.retry = s.buildFailed(s.win.next, err)
			return nil
		}
		s.buildOK()
		if err := s.dispatch(ctx, sess, v.lane, &nb); err != nil {
			return err
		}
	}
}

// budgetHeld makes the stream wait for the data budget; the hold is
// logged once, and lower priorities go: its backlog no longer holds them
// back.
func (s *stream) budgetHeld(v verdict) {
	if v.newHold {
		s.u.log.Warn("data budget spent; stream waits in the buffer (not essential)",
			"stream", s.name, "budget", s.u.cfg.Budget.String(), "resumes_in", v.resumesIn.Round(time.Second))
		s.wakeLower()
	}
	s.policy.retry = time.After(v.recheck)
}

// buildNext builds the lane's next batch: the tail from where it stands,
// the backlog from next up to the next span sent ahead.
func (s *stream) buildNext(ctx context.Context, l lane) (built, error) {
	w := &s.win
	if l == laneTail {
		return s.build(ctx, w.tail, w.tail, 0)
	}
	_, last := s.u.src.Bounds()
	s.policy.readingBacklog(last)
	return s.build(ctx, w.next, w.rangeStart, w.stop())
}

// dispatch puts a built batch in the window: published, or accounted for
// when it has nothing to publish; a batch with nothing complete yet is
// left out. A backlog read that reached the end lets lower priorities go.
func (s *stream) dispatch(ctx context.Context, sess *session, l lane, nb *built) error {
	w := &s.win
	from := w.next
	if l == laneTail {
		from = w.tail
		s.policy.tailBuilt(nb.more)
	} else {
		s.policy.backlogBuilt(nb.more, nb.last < from)
		if !nb.more {
			s.drained()
		}
	}
	switch {
	case nb.last < from:
		return nil
	case nb.payload == nil:
		w.skip(nb.last, l == laneTail)
		return nil
	}
	p, err := s.pub.send(ctx, sess, nb)
	if err != nil {
		return err
	}
	p.ahead = l == laneTail
	w.add(p)
	return nil
}

// await waits for the oldest batch's PUBACK, failing the session when it
// does not come within publish_timeout, or for a reason to fill the window
// again: a commit, a tick, a flush, the end of a retry wait.
func (s *stream) await(ctx context.Context, sess *session, sig *signals, timer *time.Timer) error {
	timeout := s.u.cfg.PublishTimeout.Duration
	var headDone <-chan struct{}
	var expired <-chan time.Time
	head := s.win.head()
	if head != nil {
		headDone = head.tok.Done()
		timer.Reset(time.Until(head.sent.Add(timeout)))
		expired = timer.C
	}
	defer timer.Stop()
	hasTail := s.win.tail > 0
	select {
	case <-ctx.Done():
		return errStopped
	case <-sess.done:
		return errStopped
	case <-headDone:
	case <-expired:
		return fmt.Errorf("no PUBACK for batch %d..%d within %s", head.first, head.last, timeout)
	case <-sig.tick:
		s.policy.signal(hasTail)
	case _, ok := <-sig.sub:
		s.policy.signal(hasTail)
		if !ok {
			sig.sub = nil
		}
	case <-s.flush:
		s.policy.signal(hasTail)
	case <-s.policy.retry:
		s.policy.retried(hasTail)
	}
	return nil
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
		s.u.log.Warn("batch not built; retrying", "stream", s.name, "from", from,
			"failures", s.buildFails, "retry_in", d, "error", err)
	}
	return s.after(d)
}

// buildOK records a batch built, ending a run of failures.
func (s *stream) buildOK() {
	if s.buildFails > 0 {
		s.u.log.Info("batch built again", "stream", s.name, "after_failures", s.buildFails)
		s.buildFails = 0
	}
}
