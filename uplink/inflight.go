package uplink

import (
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// The in-flight window. A stream keeps up to [mqtt] inflight batches
// awaiting their PUBACK; the cursor moves over the leading acknowledged
// ones only, in the order they were published, so it never passes a batch
// the broker has not taken. When any of them fails, or the session ends,
// the window is dropped whole and the next session reads again from the
// cursor: what was in flight is resent (doc.go, "Delivery").
//
// The window also keeps the spans: batches of the live tail sent ahead of
// the cursor (priority.go). A span the broker acknowledged outlives its
// session (in memory only); the backlog ends its batch right before a span
// and steps over it, so every seq is published once per run and every
// hole is counted once. A span still in flight when its session ended is
// forgotten and resent by the backlog.

// pending is a batch in the stream's window, oldest first.
type pending struct {
	first, last uint64
	count       int
	dropped     uint64
	size        int
	tok         mqtt.Token // nil: nothing to publish, complete at once
	sent        time.Time
	buf         *[]byte // pooled payload, reused after the PUBACK
	ahead       bool    // a tail batch past the cursor: acked, it becomes a span
	ackOK       bool    // ahead and acknowledged
}

// inflight is a stream's window and read positions on one session; the
// stream's run goroutine's alone.
type inflight struct {
	max   int        // [mqtt] inflight
	queue []*pending // published or accounted for, not acknowledged; oldest first
	spans []*pending // ranges sent ahead of the cursor, ascending; kept across sessions

	next       uint64 // next seq of the backlog to read
	rangeStart uint64 // first seq the next backlog batch accounts for
	tail       uint64 // next seq of the live tail; 0: no tail
}

func newInflight(max int) inflight {
	return inflight{max: max, queue: make([]*pending, 0, max)}
}

// start begins a session at cursor: the backlog resends from cursor+1,
// only the acknowledged spans past the cursor are kept, and the live tail
// starts at tail (0: none), never at or below a span already sent nor at
// or below the backlog's start.
func (w *inflight) start(cursor, tail uint64) {
	w.spans = liveSpans(w.spans, cursor)
	w.next, w.rangeStart = cursor+1, cursor+1
	if n := len(w.spans); tail > 0 && n > 0 {
		tail = max(tail, w.spans[n-1].last+1)
	}
	if tail <= w.next {
		tail = 0
	}
	w.tail = tail
}

// liveSpans keeps the spans the broker acknowledged past cursor, sorted;
// spans still in flight when a session ended are resent by the drain.
func liveSpans(spans []*pending, cursor uint64) []*pending {
	out := spans[:0]
	for _, p := range spans {
		if p.ackOK && p.last > cursor {
			out = append(out, p)
		}
	}
	clear(spans[len(out):])
	return out
}

func (w *inflight) full() bool  { return len(w.queue) >= w.max }
func (w *inflight) empty() bool { return len(w.queue) == 0 }

// head is the oldest batch in the window, nil when it is empty.
func (w *inflight) head() *pending {
	if len(w.queue) == 0 {
		return nil
	}
	return w.queue[0]
}

// headComplete reports whether the oldest batch can leave the window now:
// acknowledged (or failed), or nothing to publish.
func (w *inflight) headComplete() bool {
	return len(w.queue) > 0 && isComplete(w.queue[0])
}

// popAcked removes and returns the oldest batch once the broker has
// acknowledged it or it had nothing to publish; nil while the oldest waits
// (or the window is empty). A span leaves marked acknowledged. An error
// when the oldest batch failed: the window is then lost as a whole.
func (w *inflight) popAcked() (*pending, error) {
	if len(w.queue) == 0 {
		return nil, nil
	}
	p := w.queue[0]
	if p.tok != nil {
		if !isDone(p.tok) {
			return nil, nil
		}
		if err := p.tok.Error(); err != nil {
			return nil, fmt.Errorf("batch %d..%d: %w", p.first, p.last, err)
		}
	}
	if p.ahead {
		p.ackOK = true
	}
	n := copy(w.queue, w.queue[1:])
	w.queue[n] = nil
	w.queue = w.queue[:n]
	return p, nil
}

// failed returns an error when a batch behind the oldest has failed first
// (paho's write timeout): the window is lost then too.
func (w *inflight) failed() error {
	for _, p := range w.queue {
		if p.tok != nil && isDone(p.tok) && p.tok.Error() != nil {
			return fmt.Errorf("batch %d..%d: %w", p.first, p.last, p.tok.Error())
		}
	}
	return nil
}

// fail drops the window at the end of a session and returns how many
// published batches it held: the next session resends them from the
// cursor. Spans still in flight go at the next start.
func (w *inflight) fail() int {
	n := 0
	for _, p := range w.queue {
		if p.tok != nil {
			n++
		}
	}
	clear(w.queue)
	w.queue = w.queue[:0]
	return n
}

// stop is the first seq of the next span ahead of the backlog (0: none):
// the next backlog batch ends right before it.
func (w *inflight) stop() uint64 {
	if len(w.spans) == 0 {
		return 0
	}
	return w.spans[0].first
}

// stepSpan steps the backlog over the span starting at next, if there is
// one, and reports whether it did. The step takes a place in the window
// with nothing to publish, so the cursor moves over the span (and the
// range before it with nothing to say) in window order, after the span's
// own PUBACK.
func (w *inflight) stepSpan() bool {
	if len(w.spans) == 0 || w.spans[0].first != w.next {
		return false
	}
	sp := w.spans[0]
	w.spans = w.spans[1:]
	w.queue = append(w.queue, &pending{first: w.rangeStart, last: sp.last})
	w.next, w.rangeStart = sp.last+1, sp.last+1
	w.caughtUp()
	return true
}

// add puts a published batch in the window: a tail batch (p.ahead) becomes
// a span and moves the tail on; a backlog batch moves the backlog on.
func (w *inflight) add(p *pending) {
	w.queue = append(w.queue, p)
	if p.ahead {
		w.spans = append(w.spans, p)
		w.tail = p.last + 1
		return
	}
	w.next, w.rangeStart = p.last+1, p.last+1
	w.caughtUp()
}

// skip accounts for a range up to last with nothing to publish for the
// stream: the cursor moves over it with the window, and for the backlog
// the next published batch's range still starts where this one began.
func (w *inflight) skip(last uint64, ahead bool) {
	if ahead {
		p := &pending{first: w.tail, last: last, ahead: true}
		w.queue = append(w.queue, p)
		w.spans = append(w.spans, p)
		w.tail = last + 1
		return
	}
	w.queue = append(w.queue, &pending{first: w.rangeStart, last: last})
	w.next = last + 1
	w.caughtUp()
}

// caughtUp ends the tail once the backlog has reached it.
func (w *inflight) caughtUp() {
	if w.tail > 0 && w.next >= w.tail {
		w.tail = 0
	}
}

func isComplete(p *pending) bool { return p.tok == nil || isDone(p.tok) }

func isDone(t mqtt.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}
