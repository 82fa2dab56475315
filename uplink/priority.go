package uplink

// Order when the link returns (stream keys priority and backfill).
//
// At each connect every stream with readings past its cursor is marked
// draining. A draining stream's backlog batches wait while a stream of
// higher priority is draining (heldByPeer; policy.go weighs it with the
// budget and the window): the link's first minutes go to what matters
// most. A stream stops draining once a read reaches the end of what is
// committed, and then the lower-priority streams are poked so the next
// priority level starts at once. The draining flags are how streams signal
// each other: set at connect, read by lower priorities, cleared by the
// stream itself.
//
// The live tail (readings newer than when the link came back) is not held
// behind that: a held raw stream sends its tail ahead of its own cursor,
// and backfill = "newest-first" sends the newest batch first and every new
// tail batch before the next backlog batch, so an operator sees the present
// straight away after a week offline.
//
// A range sent ahead of the cursor is a span. The persisted cursor still
// only moves contiguously: spans live in memory (the window's,
// inflight.go), the drain stops its batch right before a span (build's
// stop, counting holes up to there) and steps over it, so every seq is
// published once per session and every hole is counted once, in the one
// batch that covers it. After a restart the spans are forgotten and resent
// from the cursor (at-least-once, as always).
// Aggregate streams have no tail: their windows need the readings in order,
// so a held aggregate stream waits whole (its batches are small).

// Backfill orders.
const (
	BackfillOldestFirst = "oldest-first"
	BackfillNewestFirst = "newest-first"
)

// markDraining is called at each connect, before the streams see the new
// session.
func (u *Uplink) markDraining() {
	for _, s := range u.list() {
		s.draining.Store(s.backlog() > 0)
	}
}

// heldByPeer reports whether s's backlog must wait for a higher-priority
// stream's: one that drains and is not itself waiting for the budget.
func (s *stream) heldByPeer() bool {
	if !s.draining.Load() {
		return false
	}
	for _, t := range s.u.list() {
		if t.cfg.Priority > s.cfg.Priority && t.draining.Load() && !s.u.budgetBlocks(t) {
			return true
		}
	}
	return false
}

// drained marks s caught up and lets lower-priority streams go.
func (s *stream) drained() {
	if s.draining.Swap(false) {
		s.wakeLower()
	}
}

// wakeLower pokes the streams s may have held back.
func (s *stream) wakeLower() {
	for _, t := range s.u.list() {
		if t != s && t.cfg.Priority < s.cfg.Priority {
			t.poke()
		}
	}
}

// tailFrom is where a session's live tail would begin (0: none): for
// newest-first at the newest batch, for a held stream at the readings
// committed from now on; the window (inflight.start) moves it past the
// spans already sent and drops it when the backlog starts there anyway.
// Aggregate streams and streams without a backlog have no tail.
func (s *stream) tailFrom() uint64 {
	if s.fns != nil || !s.draining.Load() {
		return 0
	}
	_, last := s.u.src.Bounds()
	if s.cfg.Backfill == BackfillNewestFirst {
		return last + 1 - min(last, uint64(s.cfg.MaxBatch))
	}
	return last + 1
}
