package uplink

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// tokenClient answers each Publish with the next of its tokens and keeps
// what was published; publishAsync calls it from its own goroutine.
type tokenClient struct {
	Client // nil: only Publish is used
	mu     sync.Mutex
	toks   []mqtt.Token
	topics []string
	sizes  []int
}

func (c *tokenClient) Publish(topic string, _ byte, _ bool, payload any) mqtt.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.topics = append(c.topics, topic)
	c.sizes = append(c.sizes, len(payload.([]byte)))
	tok := c.toks[0]
	c.toks = c.toks[1:]
	return tok
}

func (c *tokenClient) published() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.topics)
}

// testBatch is a built batch of 1..10 with 8 readings, 2 dropped.
func testBatch(payload int) *built {
	return &built{last: 10, payload: make([]byte, payload), batch: format.Batch{
		FirstSeq: 1, LastSeq: 10, Dropped: 2, Readings: make([]reading.Reading, 8)}}
}

const pubTopic = "karana/x/data/raw" // 17 bytes

// The publish path waits for the shared rate limit, publishes, counts the
// wire bytes and returns the batch to await its PUBACK.
func TestPublisherSend(t *testing.T) {
	fc := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(1000, 0) // 1000 B/s, bucket 2000
	l.now, l.sleep, l.last = fc.now, fc.sleep, fc.t
	m, err := newMeter(Budget{}, nil, fc.now)
	if err != nil {
		t.Fatal(err)
	}
	tok1, tok2 := &fakeToken{done: make(chan struct{})}, &fakeToken{done: make(chan struct{})}
	cl := &tokenClient{toks: []mqtt.Token{tok1, tok2}}
	sess := newSession("test")
	sess.client = cl
	pb := publisher{topic: pubTopic, limiter: l, meter: m}

	// PUBLISH: 1 fixed header byte, 2 remaining-length bytes (1521 >= 128),
	// then 2+17 topic, 2 packet id, 1500 payload; PUBACK: 4
	const wire = 1 + 2 + 2 + 17 + 2 + 1500 + 4
	p, err := pb.send(context.Background(), sess, testBatch(1500))
	if err != nil {
		t.Fatal(err)
	}
	got := *p
	got.sent = time.Time{}
	if want := (pending{first: 1, last: 10, count: 8, dropped: 2, size: 1500, tok: tok1}); got != want || p.sent.IsZero() {
		t.Errorf("pending %+v, want %+v sent now", *p, want)
	}
	if len(fc.slept) != 0 {
		t.Errorf("the first batch waited %v with a full bucket", fc.slept)
	}
	if _, err := pb.send(context.Background(), sess, testBatch(1500)); err != nil {
		t.Fatal(err)
	}
	// 2000-1528 = 472 tokens left: the second waits for 1056 more at 1000 B/s
	if want := []time.Duration{1056 * time.Millisecond}; !slices.Equal(fc.slept, want) {
		t.Errorf("second batch waited %v, want %v", fc.slept, want)
	}
	if got := m.stats().SentToday; got != 2*wire {
		t.Errorf("meter counted %d bytes, want %d", got, 2*wire)
	}
	if !slices.Equal(cl.topics, []string{pubTopic, pubTopic}) || !slices.Equal(cl.sizes, []int{1500, 1500}) {
		t.Errorf("published %v %v", cl.topics, cl.sizes)
	}
}

// A publish paho refuses at once fails the stream's session, unless the
// session is lost already (paho fails every token then); a session that
// ends during the rate limit wait stops the stream quietly, nothing sent.
func TestPublisherFailures(t *testing.T) {
	m, _ := newMeter(Budget{}, nil, nil)
	refused := func() *fakeToken {
		tok := &fakeToken{done: make(chan struct{}), err: errInjected}
		close(tok.done)
		return tok
	}
	sess := newSession("test")
	sess.client = &tokenClient{toks: []mqtt.Token{refused(), refused()}}
	pb := publisher{topic: pubTopic, meter: m}
	_, err := pb.send(context.Background(), sess, testBatch(10))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "publish batch 1..10") {
		t.Errorf("refused publish: %v, want publish batch 1..10: %v", err, errInjected)
	}

	sess.end(errors.New("connection lost"))
	if _, err := pb.send(context.Background(), sess, testBatch(10)); !errors.Is(err, errStopped) {
		t.Errorf("refused publish on a lost session: %v, want errStopped", err)
	}

	l := newLimiter(1000, 0)
	l.tokens = 0 // an empty bucket: the batch must wait
	l.sleep = func(context.Context, time.Duration, <-chan struct{}) error { return errSessionDone }
	cl := &tokenClient{}
	sess = newSession("test")
	sess.client = cl
	pb.limiter = l
	if _, err := pb.send(context.Background(), sess, testBatch(5000)); !errors.Is(err, errStopped) {
		t.Errorf("session gone in the rate limit wait: %v, want errStopped", err)
	}
	if n := cl.published(); n != 0 {
		t.Errorf("%d published after the rate limit wait failed", n)
	}
}

// ackDone moves the buffer cursor over the leading acknowledged batches, in
// window order and never onto a span sent ahead, and counts them.
func TestAckDone(t *testing.T) {
	src := newMemSource(1)
	src.Append(30)
	s := &stream{u: &Uplink{src: src}, name: "raw", win: newInflight(4)}
	s.win.start(0, 21)
	b1, t1 := sentBatch(1, 10, false)
	span, ts := sentBatch(21, 30, true)
	b2, t2 := sentBatch(11, 20, false)
	for _, p := range []*pending{b1, span, b2} {
		p.count = 10
		s.win.add(p)
	}
	close(ts.done)
	close(t2.done)
	if err := s.ackDone(); err != nil || src.Cursor("raw") != 0 {
		t.Fatalf("before the oldest PUBACK: cursor %d, %v; want 0", src.Cursor("raw"), err)
	}
	close(t1.done)
	if err := s.ackDone(); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	acks := slices.Clone(src.ackHist["raw"])
	src.mu.Unlock()
	if !slices.Equal(acks, []uint64{10, 20}) || s.cursor.Load() != 20 {
		t.Errorf("cursor acked %v (stream cursor %d), want 10 then 20, never the span's 30", acks, s.cursor.Load())
	}
	if s.batches.Load() != 3 || s.readings.Load() != 30 || s.u.progress.Load() != 3 || !span.ackOK {
		t.Errorf("counted %d batches, %d readings, progress %d, span acknowledged %v; want 3, 30, 3, true",
			s.batches.Load(), s.readings.Load(), s.u.progress.Load(), span.ackOK)
	}

	b3, _ := sentBatch(31, 40, false)
	b4, t4 := sentBatch(41, 50, false)
	s.win.add(b3)
	s.win.add(b4)
	t4.err = errInjected
	close(t4.done)
	if err := s.ackDone(); !errors.Is(err, errInjected) {
		t.Errorf("a later batch failed first: %v, want its error", err)
	}
}
