package agent

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// resultQueue sends config/result replies one at a time, in order. A set
// whose link never comes up has its "applied" reply waiting behind the dead
// link; when that version is rolled back, the waiting "applied" is
// superseded and dropped, so the operator never reads "applied" after
// "rolled_back" for the same version.
type resultQueue struct {
	mu      sync.Mutex
	pending []SetResult
	wake    chan struct{}
	once    sync.Once
}

func (a *Agent) sendResult(ctx context.Context, res SetResult) {
	q := &a.results
	q.mu.Lock()
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	if res.Status == StatusRolledBack {
		kept := q.pending[:0]
		for _, p := range q.pending {
			if !(p.Version == res.Version && p.Status == StatusApplied) {
				kept = append(kept, p)
			}
		}
		q.pending = kept
	}
	q.pending = append(q.pending, res)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	q.once.Do(func() { go a.sendResults(ctx) })
}

// sendResults publishes the queue's head until the broker takes it, then
// the next; it ends with ctx.
func (a *Agent) sendResults(ctx context.Context) {
	q := &a.results
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		head := q.pending[0]
		q.mu.Unlock()

		b, _ := json.Marshal(head)
		_, _, up := a.parts()
		if err := up.Publish(a.Config().Topic("config", "result"), b, false); err != nil {
			select {
			case <-ctx.Done():
				return
			case <-q.wake: // a rollback may have superseded the head
			case <-time.After(replyRetry):
			}
			continue
		}
		q.mu.Lock()
		// The head may have been superseded while it was being published.
		if len(q.pending) > 0 && q.pending[0].Version == head.Version && q.pending[0].Status == head.Status {
			q.pending = q.pending[1:]
		}
		q.mu.Unlock()
	}
}
