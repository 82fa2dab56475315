package uplink

import (
	"testing"
	"time"
)

// standingOf is a stream's standing as a test sets it.
type standingOf struct {
	spent bool
	wait  time.Duration
	held  bool
}

func (s standingOf) budgetSpent() (bool, time.Duration) { return s.spent, s.wait }
func (s standingOf) heldByPeer() bool                   { return s.held }

// The order of policy.go's comment: window and retry first, then the
// budget, then the tail (held or newest-first), then the backlog.
func TestSendPolicyNext(t *testing.T) {
	waiting := make(chan time.Time)
	spent3h := standingOf{spent: true, wait: 3 * time.Hour}
	for _, tc := range []struct {
		name        string
		pol         sendPolicy
		full, tail  bool
		st          standingOf
		want        verdict
		wantOverBud bool
	}{
		{name: "backlog due", pol: sendPolicy{due: true}, want: verdict{lane: laneBacklog}},
		{name: "nothing new", pol: sendPolicy{}, want: verdict{}},
		{name: "window full", pol: sendPolicy{due: true, tailDue: true}, full: true, tail: true,
			st: standingOf{held: true}, want: verdict{}},
		{name: "build retry pending", pol: sendPolicy{due: true, retry: waiting}, want: verdict{}},
		{name: "window full, budget spent: not a hold", pol: sendPolicy{due: true}, full: true, st: spent3h, want: verdict{}},

		{name: "budget spent, backlog due", pol: sendPolicy{due: true}, st: spent3h,
			want:        verdict{budget: true, newHold: true, recheck: budgetRecheck, resumesIn: 3 * time.Hour},
			wantOverBud: true},
		{name: "budget spent, hold logged already", pol: sendPolicy{due: true, overBudget: true}, st: spent3h,
			want:        verdict{budget: true, recheck: budgetRecheck, resumesIn: 3 * time.Hour},
			wantOverBud: true},
		{name: "budget spent, next UTC day in 20s", pol: sendPolicy{due: true},
			st:          standingOf{spent: true, wait: 20 * time.Second},
			want:        verdict{budget: true, newHold: true, recheck: 20 * time.Second, resumesIn: 20 * time.Second},
			wantOverBud: true},
		{name: "budget spent, only the tail due", pol: sendPolicy{tailDue: true}, tail: true, st: spent3h,
			want:        verdict{budget: true, newHold: true, recheck: budgetRecheck, resumesIn: 3 * time.Hour},
			wantOverBud: true},
		{name: "budget spent, nothing due: the hold ends", pol: sendPolicy{overBudget: true}, st: spent3h, want: verdict{}},
		{name: "budget room again", pol: sendPolicy{due: true, overBudget: true}, want: verdict{lane: laneBacklog}},

		{name: "held by a peer, tail due", pol: sendPolicy{due: true, tailDue: true}, tail: true,
			st: standingOf{held: true}, want: verdict{lane: laneTail}},
		{name: "held by a peer, no tail", pol: sendPolicy{due: true}, st: standingOf{held: true}, want: verdict{}},
		{name: "held by a peer, nothing new for the tail", pol: sendPolicy{due: true}, tail: true,
			st: standingOf{held: true}, want: verdict{}},
		{name: "held by a peer, tail caught up by the backlog", pol: sendPolicy{due: true, tailDue: true},
			st: standingOf{held: true}, want: verdict{}},
		{name: "oldest-first, tail due, not held: backlog", pol: sendPolicy{due: true, tailDue: true}, tail: true,
			want: verdict{lane: laneBacklog}},
		{name: "oldest-first, only the tail due, not held", pol: sendPolicy{tailDue: true}, tail: true, want: verdict{}},
		{name: "newest-first, tail due", pol: sendPolicy{newestFirst: true, due: true, tailDue: true}, tail: true,
			want: verdict{lane: laneTail}},
		{name: "newest-first, only the tail due", pol: sendPolicy{newestFirst: true, tailDue: true}, tail: true,
			want: verdict{lane: laneTail}},
		{name: "newest-first, nothing new for the tail", pol: sendPolicy{newestFirst: true, due: true}, tail: true,
			want: verdict{lane: laneBacklog}},
		{name: "newest-first, held, nothing new for the tail", pol: sendPolicy{newestFirst: true, due: true}, tail: true,
			st: standingOf{held: true}, want: verdict{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pol
			before := p.overBudget
			if got := p.next(tc.full, tc.tail, tc.st); got != tc.want {
				t.Errorf("next = %+v, want %+v", got, tc.want)
			}
			wantOver := tc.wantOverBud
			if tc.full || tc.pol.retry != nil {
				wantOver = before // not looked at
			}
			if p.overBudget != wantOver {
				t.Errorf("overBudget = %v, want %v", p.overBudget, wantOver)
			}
		})
	}
}

// What is due, through a session: the start resends the backlog and the
// tail, builds end what they found complete.
func TestSendPolicySession(t *testing.T) {
	var p sendPolicy
	p.begin(true)
	if !p.due || !p.tailDue || p.retry != nil {
		t.Fatalf("after begin: %+v, want backlog and tail due, no retry", p)
	}
	p.tailBuilt(false)
	p.readingBacklog(500)
	p.backlogBuilt(true, false)
	if p.tailDue || !p.due {
		t.Fatalf("tail read to the end, backlog has more: %+v", p)
	}
	p.backlogBuilt(true, true) // an aggregate stream: more readings, no window complete
	if p.due {
		t.Error("backlog due after a build with nothing complete")
	}
	if !p.idle(true, false) || p.idle(false, false) || p.idle(true, true) {
		t.Error("idle: want true only with the window empty, no tail and nothing due")
	}
	if p.readTo != 500 {
		t.Errorf("readTo %d, want 500", p.readTo)
	}
	if p.begin(false); p.readTo != 0 || !p.due {
		t.Errorf("next session: %+v, want the backlog due and readTo 0", p)
	}
}

// A signal makes the backlog due (the tail only while there is one), a
// pending retry holds everything until it ends, and the end counts as a
// signal; the budget hold is logged once, across sessions too.
func TestSendPolicyRetryAndHold(t *testing.T) {
	var p sendPolicy
	p.begin(true)
	p.due, p.tailDue = false, false
	p.retry = make(chan time.Time)
	p.signal(false)
	if !p.due || p.tailDue {
		t.Errorf("after a signal without a tail: %+v", p)
	}
	if v := p.next(false, false, standingOf{}); v.lane != laneNone {
		t.Errorf("verdict %+v while a retry is pending", v)
	}
	p.due = false
	p.retried(true)
	if p.retry != nil || !p.due || !p.tailDue {
		t.Errorf("after the retry: %+v", p)
	}

	spent := standingOf{spent: true, wait: time.Hour}
	if v := p.next(false, true, spent); !v.newHold {
		t.Fatalf("first hold: %+v", v)
	}
	p.begin(false) // the session ends while held; a new one starts
	if v := p.next(false, false, spent); !v.budget || v.newHold {
		t.Errorf("hold in the next session: %+v, want it not logged again", v)
	}
}
