package uplink

import "time"

// When may a stream publish, and what? sendPolicy.next answers, before
// every batch, on a session; whether there is a session at all is the link
// windows' business (windows.go). In this order:
//
//  1. Nothing while the window is full ([mqtt] inflight batches await
//     their PUBACK) or a batch that failed to build waits for its retry.
//  2. Nothing while the data budget is spent and the stream is not
//     essential, if it has anything to send (budget.go): it looks again
//     when the next UTC day or month starts, and at least every
//     budgetRecheck (the clock may be set meanwhile). The hold is logged
//     once, and lower priorities are woken: a stream held by the budget no
//     longer holds them back.
//  3. The live tail, when there is one, something new was signalled for
//     it, and either a higher-priority stream is draining (the backlog is
//     held) or backfill = "newest-first" (priority.go).
//  4. Nothing while nothing new was signalled for the backlog, or a
//     higher-priority stream is draining.
//  5. The backlog, from the cursor (stepping over a span sent ahead).
//
// Something new is: the session's start (the backlog resends from the
// cursor), a buffer commit (period 0), a period tick, a flush, the end of
// a retry wait. A build that finds no more ready ends it, for the tail or
// the backlog as built.

// budgetRecheck bounds the wait of a stream held by the data budget: the
// clock may be set (NTP) while it waits.
const budgetRecheck = time.Minute

// lane is what a stream publishes next.
type lane uint8

const (
	laneNone    lane = iota // nothing now
	laneBacklog             // from the cursor
	laneTail                // the live tail, ahead of the cursor
)

// standing is what the policy asks about the stream beyond its own state:
// the uplink's meter and the stream's peers (the stream answers).
type standing interface {
	// budgetSpent reports whether the data budget holds the stream (never
	// an essential one) and how long until the next UTC day or month.
	budgetSpent() (bool, time.Duration)
	// heldByPeer reports whether the stream's backlog waits for a
	// higher-priority stream's.
	heldByPeer() bool
}

// verdict is the answer of sendPolicy.next.
type verdict struct {
	lane lane
	// budget: laneNone because the data budget is spent. The stream looks
	// again after recheck; resumesIn is when the budget gives room again;
	// newHold says the hold starts with this verdict.
	budget    bool
	newHold   bool
	recheck   time.Duration
	resumesIn time.Duration
}

// sendPolicy is a stream's answer to "may it publish now, and what"; the
// stream's run goroutine's alone.
type sendPolicy struct {
	newestFirst bool // backfill = "newest-first"

	due     bool             // something new for the backlog
	tailDue bool             // something new for the live tail
	retry   <-chan time.Time // a wait (a failed build, the budget) ends; nil: none
	readTo  uint64           // last committed seq when the backlog was last read

	overBudget bool // the budget held the stream at the last look (kept across sessions)
}

// begin starts a session: the backlog is resent from the cursor at once,
// and the tail sent if there is one.
func (p *sendPolicy) begin(hasTail bool) {
	p.due, p.tailDue = true, hasTail
	p.retry = nil
	p.readTo = 0
}

// signal records something new: a commit, a tick, a flush.
func (p *sendPolicy) signal(hasTail bool) { p.due, p.tailDue = true, hasTail }

// retried records the end of a retry wait, which counts as something new.
func (p *sendPolicy) retried(hasTail bool) {
	p.retry = nil
	p.signal(hasTail)
}

// next is the verdict for the next batch. full: the window is full;
// hasTail: the stream has a live tail.
func (p *sendPolicy) next(full, hasTail bool, st standing) verdict {
	if p.retry != nil || full {
		return verdict{}
	}
	if spent, wait := st.budgetSpent(); spent && (p.due || p.tailDue) {
		v := verdict{budget: true, newHold: !p.overBudget, recheck: min(wait, budgetRecheck), resumesIn: wait}
		p.overBudget = true
		return v
	}
	p.overBudget = false
	held := st.heldByPeer()
	switch {
	case hasTail && p.tailDue && (held || p.newestFirst):
		return verdict{lane: laneTail}
	case !p.due || held:
		return verdict{}
	}
	return verdict{lane: laneBacklog}
}

// tailBuilt records a tail batch built: the tail stays due while more is
// ready.
func (p *sendPolicy) tailBuilt(more bool) { p.tailDue = more }

// readingBacklog records the last committed seq as a backlog read starts.
func (p *sendPolicy) readingBacklog(last uint64) { p.readTo = last }

// backlogBuilt records a backlog batch built: the backlog stays due while
// more is ready and the batch had something complete (an aggregate
// stream's open window is not).
func (p *sendPolicy) backlogBuilt(more, nothing bool) { p.due = more && !nothing }

// idle reports whether the stream has sent all it can, up to readTo: its
// window empty, no tail, nothing due for the backlog.
func (p *sendPolicy) idle(empty, hasTail bool) bool { return empty && !hasTail && !p.due }
