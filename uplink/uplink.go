package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/reading"
)

// Source is what the uplink needs from the buffer.
type Source interface {
	// Read returns committed readings with Seq >= from, ascending, at most
	// max. The slice is the caller's.
	Read(from uint64, max int) ([]reading.Reading, error)
	// Bounds returns the first available and the last committed seq
	// (empty: first == last+1).
	Bounds() (first, last uint64)
	// Cursor returns the stream's last acknowledged seq.
	Cursor(stream string) uint64
	// Ack advances the stream's cursor; the buffer persists it at its next
	// group commit.
	Ack(stream string, seq uint64)
	// SubscribeCtx returns a channel signalled after each commit that
	// added readings (signals may coalesce), until ctx ends: a stream
	// restarted in place (Reconfigure) must not leave its channel behind.
	SubscribeCtx(ctx context.Context) <-chan struct{}
}

// Options are the uplink's collaborators and identity.
type Options struct {
	DeviceID string
	Version  string
	// Topic builds a topic under the device prefix: Topic("data", "raw") →
	// "karana/site-042/data/raw". Nil: built from MQTTConfig.TopicPrefix with
	// "{device}" replaced by DeviceID.
	Topic func(parts ...string) string
	// Status returns extra fields for the online status document (buffer
	// depth, oldest unsent age ...); called at each connect and by
	// PublishStatus. Nil: none.
	Status func() map[string]any
	// Health returns a digest of the status fields whose change the
	// backend must hear about without waiting for a reconnect (the buffer
	// failing, recovered, read-only), not of counters that move every
	// second. While connected the uplink polls it and publishes the status
	// document again when it changes, at most once a minute (status.go).
	// Nil: the status document goes out at connect and on PublishStatus.
	Health func() string
	Log    *slog.Logger // nil: discard
	// NewClient makes the MQTT client for one connection; nil: paho.
	NewClient func(*mqtt.ClientOptions) Client
	// Inbound receives config/set and cmd/+ messages (see inbound.go); nil:
	// the uplink subscribes to nothing.
	Inbound func(topic string, payload []byte)
	// InboundRetained, when set, receives instead of Inbound the inbound
	// messages the broker delivers with the retain flag: a retained
	// config/set comes again at every subscribe. Nil: Inbound has them.
	InboundRetained func(topic string, payload []byte)
	// MaxInbound bounds the payload of a message from the broker: a larger
	// one reaches Inbound as a stand-in (CutPayload), its bytes never held
	// in memory (inbound_limit.go). 0: no bound.
	MaxInbound int
	// Severity names the severity of an alarm series (alarm.<rule>), ""
	// for any other; json batches carry it on the alarm's readings. Nil:
	// none.
	Severity func(series string) string
}

// Uplink streams buffered readings to one MQTT broker.
type Uplink struct {
	cfg         MQTTConfig
	tr          *transport
	src         Source
	opts        Options
	log         *slog.Logger
	clientID    string
	topicStatus string
	startedAt   time.Time
	newClient   func(*mqtt.ClientOptions) Client
	backoff     backoff
	streams     []*stream // replaced by Reconfigure under mu: read with list()
	set         streamSet // the streams' goroutines (reconfigure.go)
	meter       *meter    // bytes sent and the data budget (budget.go)
	limiter     *limiter  // rate_limit; nil: none (ratelimit.go)
	windows     []window  // link windows; nil: always (windows.go)
	windowPoll  time.Duration
	now         func() time.Time
	health      healthState // status republish on health changes (status.go)

	urgent chan struct{} // wakes waitForLink for an alarm (urgent.go)

	mu          sync.Mutex
	sess        *session      // the live connection, nil while disconnected
	sessChanged chan struct{} // closed and replaced whenever sess changes
	running     bool
	shutdown    bool
	cancel      context.CancelFunc
	runDone     chan struct{}
	exitBy      time.Time // when the offline status must be out by on exit
	connErr     string

	connects    atomic.Uint64
	disconnects atomic.Uint64
	progress    atomic.Uint64
	wire        *wireCounter // bytes at the socket (wire.go)
}

// New validates the configuration and reads the credential and TLS files.
func New(cfg MQTTConfig, streams []StreamConfig, src Source, opts Options) (*Uplink, error) {
	if src == nil {
		return nil, errors.New("uplink: no buffer source")
	}
	if opts.DeviceID == "" {
		return nil, errors.New("uplink: empty device id")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("uplink: [mqtt]: %w", err)
	}
	tr, err := loadTransport(&cfg)
	if err != nil {
		return nil, err
	}
	if opts.Topic == nil {
		prefix := strings.ReplaceAll(cfg.TopicPrefix, "{device}", opts.DeviceID)
		opts.Topic = func(parts ...string) string { return prefix + "/" + strings.Join(parts, "/") }
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{
		cfg:         cfg,
		tr:          tr,
		src:         src,
		opts:        opts,
		log:         log,
		clientID:    cfg.ClientID,
		topicStatus: opts.Topic("status"),
		startedAt:   time.Now(),
		newClient:   opts.NewClient,
		backoff:     newBackoff(cfg.ReconnectMin.Duration, cfg.ReconnectMax.Duration),
		sessChanged: make(chan struct{}),
		urgent:      make(chan struct{}, 1),
	}
	store, _ := src.(StateStore)
	if u.meter, err = newMeter(cfg.Budget, store, nil); err != nil {
		return nil, fmt.Errorf("uplink: [mqtt] budget: %w", err)
	}
	u.wire = &wireCounter{m: u.meter}
	u.limiter = newLimiter(cfg.RateLimit, maxBatchBytes(streams))
	if u.windows, err = cfg.Windows.Parse(); err != nil {
		return nil, fmt.Errorf("uplink: [mqtt] %w", err)
	}
	u.windowPoll, u.now = 5*time.Second, time.Now
	if u.clientID == "" {
		u.clientID = opts.DeviceID
	}
	if u.newClient == nil {
		u.newClient = newPahoClient
	}
	if u.streams, err = u.buildStreams(streams, nil); err != nil {
		return nil, err
	}
	return u, nil
}

// Run connects (with jittered exponential backoff), runs every stream and
// reconnects after each loss until ctx is done or Shutdown is called. On the
// way out it publishes the retained offline status and disconnects. It
// returns nil when stopped that way.
func (u *Uplink) Run(ctx context.Context) error {
	u.mu.Lock()
	switch {
	case u.shutdown:
		u.mu.Unlock()
		return nil
	case u.running:
		u.mu.Unlock()
		return errors.New("uplink: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u.running, u.cancel, u.runDone = true, cancel, make(chan struct{})
	done := u.runDone
	u.mu.Unlock()
	defer close(done)

	u.startStreams(ctx)
	live := u.connectLoop(ctx)
	u.setSession(nil)
	u.stopStreams() // streams must be off the buffer before Run returns and the buffer closes
	if live != nil {
		u.goOffline(live)
	}
	return nil
}

// connectLoop keeps one session up until ctx is done; it returns the
// session still connected at that moment, if any.
func (u *Uplink) connectLoop(ctx context.Context) *session {
	attempt := 0
	for ctx.Err() == nil {
		u.waitForLink(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s, err := u.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			u.setConnErr(err)
			d := u.backoff.wait(attempt)
			attempt++
			u.log.Info("connect failed", "broker", u.cfg.Broker, "error", err, "attempt", attempt, "retry_in", d.Round(time.Millisecond))
			sleepCtx(ctx, d)
			continue
		}
		u.connects.Add(1)
		u.setConnErr(nil)
		u.log.Info("connected", "broker", u.cfg.Broker, "client_id", u.clientID, "backlog", u.backlog())
		u.markDraining()
		u.setSession(s)
		select {
		case <-s.done:
		case <-ctx.Done():
			if !s.lost() {
				return s
			}
		case <-u.windowClosed(ctx, s):
			u.setSession(nil)
			u.closeForWindow(s)
			attempt = 0
			continue
		}
		u.setSession(nil)
		s.cut() // no-op when paho saw the loss; otherwise fails paho's pending tokens now
		u.setConnErr(s.reason)
		u.disconnects.Add(1)
		up := time.Since(s.connectedAt)
		if up > u.backoff.ceiling(attempt) {
			attempt = 0 // it held for a while: a fresh outage, not a flapping broker
		}
		d := u.backoff.wait(attempt)
		attempt++
		u.log.Info("disconnected", "broker", u.cfg.Broker, "reason", s.reason,
			"connected_for", up.Round(10*time.Millisecond), "backlog", u.backlog(), "retry_in", d.Round(time.Millisecond))
		sleepCtx(ctx, d)
	}
	return nil
}

// connect makes one connection attempt on a fresh client.
func (u *Uplink) connect(ctx context.Context) (*session, error) {
	s := newSession(u.cfg.Broker)
	c := u.newClient(u.clientOptions(s))
	s.client = c
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		s.end(ctx.Err())
		s.cut()
		go c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		s.end(err)
		s.cut()
		return nil, fmt.Errorf("uplink: connect to %s: %w", u.cfg.Broker, err)
	}
	s.connectedAt = time.Now()
	u.publishOnline(s, nil)
	go u.watchHealth(s)
	u.subscribeInbound(s)
	return s, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (u *Uplink) setSession(s *session) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sess == s {
		return
	}
	u.sess = s
	close(u.sessChanged)
	u.sessChanged = make(chan struct{})
}

// current returns the live session (nil when disconnected) and a channel
// closed when that changes.
func (u *Uplink) current() (*session, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sess, u.sessChanged
}

func (u *Uplink) setConnErr(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.connErr = ""
	if err != nil {
		u.connErr = err.Error()
	}
}

// publishAsync publishes on s without letting a stalled paho block the
// caller past the session's end: paho's Publish waits on its writer, and
// after a loss nobody reads that channel until WriteTimeout.
func publishAsync(ctx context.Context, s *session, topic string, retained bool, payload []byte) (mqtt.Token, error) {
	ch := make(chan mqtt.Token, 1)
	go func() { ch <- s.client.Publish(topic, 1, retained, payload) }()
	select {
	case tok := <-ch:
		return tok, nil
	case <-s.done:
		return nil, fmt.Errorf("publish %s: connection lost: %w", topic, s.reason)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Flush makes every stream publish what is buffered now, without waiting
// for its period (the `flush` command).
func (u *Uplink) Flush() {
	for _, s := range u.list() {
		s.poke()
	}
}

// Connected reports whether a connection to the broker is up.
func (u *Uplink) Connected() bool {
	s, _ := u.current()
	return s != nil && !s.lost() && s.client.IsConnectionOpen()
}

// Progress counts data batches the broker has acknowledged since start; a
// watchdog or a config rollback watches it move.
func (u *Uplink) Progress() uint64 { return u.progress.Load() }

// backlog is the number of readings some stream has not had acknowledged
// yet (the largest over the streams).
func (u *Uplink) backlog() uint64 {
	var n uint64
	for _, s := range u.list() {
		n = max(n, s.backlog())
	}
	return n
}

// Shutdown is for SIGTERM: it publishes what the broker acknowledges within
// timeout (every stream flushed up to the last seq committed now), then the
// retained offline status, disconnects, and returns within timeout even with
// the broker gone. Readings not acknowledged stay buffered for the next
// start; the error says how many.
func (u *Uplink) Shutdown(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	u.mu.Lock()
	if u.shutdown {
		u.mu.Unlock()
		return nil
	}
	u.shutdown = true
	running, cancel, done := u.running, u.cancel, u.runDone
	u.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-done:
		return nil // Run already stopped with its context
	default:
	}

	_, target := u.src.Bounds()
	u.Flush()
	// keep a slice of the time for the offline status and the disconnect
	drainBy := deadline.Add(-min(timeout/4, time.Second))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !u.ackedUpTo(target) && time.Now().Before(drainBy) {
		<-tick.C
	}
	unsent := u.unackedUpTo(target)

	u.mu.Lock()
	u.exitBy = deadline
	u.mu.Unlock()
	cancel()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return fmt.Errorf("uplink: shutdown: not stopped within %s (%d readings not acknowledged stay buffered)", timeout, unsent)
	}
	if unsent > 0 {
		return fmt.Errorf("uplink: shutdown: %d readings not acknowledged by %s within %s; they stay buffered", unsent, u.cfg.Broker, timeout)
	}
	return nil
}

func (u *Uplink) ackedUpTo(seq uint64) bool { return u.unackedUpTo(seq) == 0 }

// unackedUpTo counts readings up to seq that some stream still has to send.
func (u *Uplink) unackedUpTo(seq uint64) uint64 {
	first, _ := u.src.Bounds()
	var n uint64
	for _, s := range u.list() {
		c := s.cursor.Load()
		if first > 0 {
			c = max(c, first-1) // readings lost to overflow are not waited for
		}
		if c < seq {
			n = max(n, seq-c)
		}
	}
	return n
}

// goOffline publishes the retained offline status on the live session and
// disconnects, bounded by exitBy (set by Shutdown) or a short default.
func (u *Uplink) goOffline(s *session) {
	u.mu.Lock()
	by := u.exitBy
	u.mu.Unlock()
	if by.IsZero() {
		by = time.Now().Add(min(2*time.Second, u.cfg.PublishTimeout.Duration))
	}
	ctx, cancel := context.WithDeadline(context.Background(), by)
	defer cancel()
	doc := u.finalDoc(s, "shutdown")
	tok, err := publishAsync(ctx, s, u.topicStatus, true, doc)
	if err == nil {
		u.meter.add(u.topicStatus, len(doc))
		select {
		case <-tok.Done():
			err = tok.Error()
		case <-ctx.Done():
			err = errors.New("no PUBACK before the shutdown deadline")
		}
	}
	if err != nil {
		// no clean DISCONNECT then: it would discard the will and leave
		// "online" as the retained status
		u.log.Info("offline status not published; cutting the connection so the broker publishes the will", "broker", u.cfg.Broker, "error", err)
	} else {
		quiesce := min(250*time.Millisecond, max(0, time.Until(by)))
		s.client.Disconnect(uint(quiesce.Milliseconds()))
	}
	s.end(errors.New("shutdown"))
	s.cut()
	u.disconnects.Add(1)
	u.log.Info("disconnected", "broker", u.cfg.Broker, "reason", "shutdown", "backlog", u.backlog())
}
