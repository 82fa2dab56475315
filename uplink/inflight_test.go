package uplink

import (
	"errors"
	"testing"
)

// sentBatch is a published batch of the window tests with a token the test
// completes (fakeToken, delivery_test.go).
func sentBatch(first, last uint64, ahead bool) (*pending, *fakeToken) {
	tok := &fakeToken{done: make(chan struct{})}
	return &pending{first: first, last: last, tok: tok, ahead: ahead}, tok
}

// popAll pops what the window lets go, in order.
func popAll(t *testing.T, w *inflight) []*pending {
	t.Helper()
	var out []*pending
	for {
		p, err := w.popAcked()
		if err != nil {
			t.Fatalf("popAcked: %v", err)
		}
		if p == nil {
			return out
		}
		out = append(out, p)
	}
}

// The window fills up to [mqtt] inflight and lets batches go in the order
// they were published only: a PUBACK that overtakes the oldest's waits.
func TestInflightAckInOrder(t *testing.T) {
	w := newInflight(3)
	w.start(0, 0)
	var toks []*fakeToken
	for i := range uint64(3) {
		if w.full() {
			t.Fatalf("full with %d of 3 batches", i)
		}
		p, tok := sentBatch(10*i+1, 10*i+10, false)
		w.add(p)
		toks = append(toks, tok)
	}
	if !w.full() {
		t.Fatal("not full with 3 of 3 batches")
	}
	if w.next != 31 || w.rangeStart != 31 {
		t.Fatalf("backlog at %d (range from %d), want 31 after 1..30", w.next, w.rangeStart)
	}

	close(toks[1].done) // the second batch's PUBACK first
	if got := popAll(t, &w); len(got) != 0 {
		t.Fatalf("popped %d..%d before the oldest batch's PUBACK", got[0].first, got[0].last)
	}
	if w.headComplete() {
		t.Fatal("head complete before its PUBACK")
	}
	close(toks[0].done)
	got := popAll(t, &w)
	if len(got) != 2 || got[0].last != 10 || got[1].last != 20 {
		t.Fatalf("popped %v, want 1..10 then 11..20", ranges(got))
	}
	if w.full() || w.head().last != 30 {
		t.Fatalf("after two PUBACKs: full %v, head %v", w.full(), ranges([]*pending{w.head()}))
	}
}

// A failed batch loses the window: at the head it is the pop's error, behind
// the head (paho's write timeout) failed reports it; fail then drops the
// window and counts the published batches the next session resends.
func TestInflightFail(t *testing.T) {
	w := newInflight(4)
	w.start(100, 0)
	p1, t1 := sentBatch(101, 110, false)
	p2, t2 := sentBatch(111, 120, false)
	w.add(p1)
	w.add(p2)
	w.skip(130, false) // nothing to publish in 121..130

	if err := w.failed(); err != nil {
		t.Fatalf("failed with every token pending: %v", err)
	}
	t2.err = errInjected
	close(t2.done)
	if err := w.failed(); !errors.Is(err, errInjected) || err.Error() != "batch 111..120: "+errInjected.Error() {
		t.Fatalf("failed() = %v, want batch 111..120: %v", err, errInjected)
	}
	t1.err = errInjected
	close(t1.done)
	if p, err := w.popAcked(); p != nil || !errors.Is(err, errInjected) {
		t.Fatalf("popAcked() = %v, %v; want the head's failure", p, err)
	}
	if n := w.fail(); n != 2 {
		t.Errorf("fail() = %d published batches, want 2 (the skipped range is not a resend)", n)
	}
	if !w.empty() || w.full() {
		t.Error("window not empty after fail")
	}
	w.start(100, 0)
	if w.next != 101 || w.rangeStart != 101 {
		t.Errorf("next session reads from %d (range %d), want the cursor's 101", w.next, w.rangeStart)
	}
}

// A range with nothing to publish takes a place in the window, complete at
// once, and the next published batch's range starts where it began.
func TestInflightSkip(t *testing.T) {
	w := newInflight(4)
	w.start(0, 0)
	w.skip(50, false)
	if w.next != 51 || w.rangeStart != 1 {
		t.Fatalf("after skipping 1..50: next %d, range from %d; want 51, 1", w.next, w.rangeStart)
	}
	if !w.headComplete() {
		t.Fatal("a skipped range waits for a PUBACK")
	}
	got := popAll(t, &w)
	if len(got) != 1 || got[0].first != 1 || got[0].last != 50 || got[0].tok != nil {
		t.Fatalf("popped %v, want the skipped 1..50", ranges(got))
	}
}

// spansSession runs a session of the span tests: the tail 101..170 sent
// ahead of a backlog from 1 (101..150 and 161..170 published, 151..160 with
// nothing to publish), the backlog 1..100 published and 101..150 stepped
// over. It returns the tokens of 101..150 and 1..100.
func spansSession(t *testing.T) (w inflight, span, backlog *fakeToken) {
	t.Helper()
	w = newInflight(8)
	w.start(0, 101) // backlog 1..100, tail from 101
	if w.tail != 101 || w.stop() != 0 {
		t.Fatalf("tail %d, stop %d; want 101, 0", w.tail, w.stop())
	}
	s1, span := sentBatch(101, 150, true)
	w.add(s1)
	w.skip(160, true) // a tail range with nothing for the stream
	s3, _ := sentBatch(161, 170, true)
	w.add(s3)
	if w.tail != 171 || w.next != 1 || w.stop() != 101 {
		t.Fatalf("after the tail: tail %d, next %d, stop %d; want 171, 1, 101 (the first span)", w.tail, w.next, w.stop())
	}
	if w.stepSpan() {
		t.Fatal("stepped over a span not at next")
	}
	b1, backlog := sentBatch(1, 100, false)
	w.add(b1)
	if !w.stepSpan() {
		t.Fatal("did not step over the span at 101")
	}
	return w, span, backlog
}

// Spans: tail batches sent ahead of the cursor become spans, the backlog
// stops before them and steps over them, and the cursor still moves in
// the order the window was filled.
func TestInflightSpans(t *testing.T) {
	w, span, backlog := spansSession(t)
	if w.next != 151 || w.rangeStart != 151 || w.tail != 171 {
		t.Fatalf("after the step: next %d, range %d, tail %d; want 151, 151, 171", w.next, w.rangeStart, w.tail)
	}
	close(span.done)
	got := popAll(t, &w)
	if len(got) != 2 || !got[0].ahead || !got[0].ackOK || !got[1].ahead {
		t.Fatalf("popped %v, want the acknowledged span 101..150 and the empty 151..160", ranges(got))
	}
	close(backlog.done)
	if got = popAll(t, &w); len(got) != 0 {
		t.Fatalf("popped %v while 161..170, published before them, awaits its PUBACK", ranges(got))
	}
}

// After a session ends only the acknowledged spans past the cursor are
// kept, and the tail restarts past the last of them.
func TestInflightSpansAfterLoss(t *testing.T) {
	w, span, _ := spansSession(t)
	close(span.done)
	popAll(t, &w)
	// the session ends with the step over 101..150 and the span 161..170
	// not acknowledged; the cursor is at 100
	w.fail()
	w.start(100, 101)
	if len(w.spans) != 1 || w.spans[0].first != 151 {
		t.Fatalf("spans after the loss: %v, want only the acknowledged 151..160 (the step over 101..150 went with the window)", ranges(w.spans))
	}
	if w.tail != 161 || w.stop() != 151 {
		t.Errorf("tail restarts at %d, stop %d; want 161 (past the last acknowledged span), 151", w.tail, w.stop())
	}
	b2, _ := sentBatch(101, 150, false)
	w.add(b2)
	if !w.stepSpan() || w.next != 161 || w.tail != 0 {
		t.Errorf("after stepping 151..160: next %d, tail %d; want 161 and the tail caught up (0)", w.next, w.tail)
	}
	w.fail()
	w.start(160, 171)
	if len(w.spans) != 0 || w.tail != 171 {
		t.Errorf("cursor past every span: spans %v, tail %d; want none, 171", ranges(w.spans), w.tail)
	}
	w.start(200, 171)
	if w.tail != 0 {
		t.Errorf("tail %d at or below the backlog's start 201, want none", w.tail)
	}
}

// A range with nothing to publish right before a span folds into the step
// over it: the cursor moves over both at once, and the next backlog batch
// starts past the span.
func TestInflightStepAfterSkip(t *testing.T) {
	w := newInflight(4)
	w.start(0, 51)
	sp, tok := sentBatch(51, 60, true)
	w.add(sp)
	close(tok.done)
	popAll(t, &w)
	w.skip(50, false)
	if !w.stepSpan() {
		t.Fatal("no step over the span at 51")
	}
	if w.next != 61 || w.rangeStart != 61 || w.tail != 0 {
		t.Fatalf("after the step: next %d, range %d, tail %d; want 61, 61, 0", w.next, w.rangeStart, w.tail)
	}
	if got := popAll(t, &w); len(got) != 2 || got[1].first != 1 || got[1].last != 60 {
		t.Fatalf("popped %v, want 1..50 and the step 1..60", ranges(got))
	}
}

// The backlog catching up with the tail ends the tail.
func TestInflightBacklogReachesTail(t *testing.T) {
	w := newInflight(2)
	w.start(0, 51)
	p, _ := sentBatch(1, 60, false)
	w.add(p)
	if w.tail != 0 {
		t.Errorf("tail %d after the backlog passed it, want 0", w.tail)
	}
}

func ranges(ps []*pending) [][2]uint64 {
	var out [][2]uint64
	for _, p := range ps {
		if p != nil {
			out = append(out, [2]uint64{p.first, p.last})
		}
	}
	return out
}

// A backlog range with nothing to publish that passes the tail's start ends
// the tail too, as a published one does: else a tail held again later (a
// higher-priority stream added mid-session) would read that range a second
// time, and a seq would go out twice within one run.
func TestInflightBacklogSkipReachesTail(t *testing.T) {
	w := newInflight(2)
	w.start(0, 51)
	w.skip(60, false)
	if w.tail != 0 {
		t.Errorf("tail %d after the backlog skipped past it, want 0", w.tail)
	}
}
