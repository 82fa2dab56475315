package buffer

import (
	"context"
	"slices"
	"sync"
)

// Subscribe returns a channel that receives a signal (without blocking the
// committer; signals coalesce) after every commit that added readings. It
// stays subscribed until Unsubscribe, and is not closed by Close.
func (r *Ring) Subscribe() <-chan struct{} {
	return r.subs.add(nil)
}

// SubscribeCtx is Subscribe until ctx is done: the ring lets go of the
// channel at the next commit that adds readings or the next subscription,
// whichever comes first. The channel is not closed; the caller stops
// waiting on it when ctx is done. A stream that subscribes each time it
// starts uses this (or Unsubscribe), or every restart leaves one behind.
func (r *Ring) SubscribeCtx(ctx context.Context) <-chan struct{} {
	return r.subs.add(ctx.Done())
}

// Unsubscribe stops signalling ch (from Subscribe or SubscribeCtx) and
// lets go of it. Unknown channels are ignored.
func (r *Ring) Unsubscribe(ch <-chan struct{}) {
	r.subs.remove(ch)
}

// subscribers are the channels a commit that added readings signals. They
// have their own lock and call nothing of the ring: the committer signals
// them after releasing Ring.mu.
type subscribers struct {
	mu   sync.Mutex
	list []subscriber
}

type subscriber struct {
	ch   chan struct{}
	done <-chan struct{} // SubscribeCtx's ctx.Done(); nil: until Unsubscribe
}

func (s *subscribers) add(done <-chan struct{}) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropDoneLocked()
	s.list = append(s.list, subscriber{ch: ch, done: done})
	return ch
}

func (s *subscribers) remove(ch <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = slices.DeleteFunc(s.list, func(x subscriber) bool { return x.ch == ch })
}

// notify signals every subscriber, and lets go of those whose context is
// done.
func (s *subscribers) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropDoneLocked()
	for _, x := range s.list {
		select {
		case x.ch <- struct{}{}:
		default:
		}
	}
}

func (s *subscribers) dropDoneLocked() {
	s.list = slices.DeleteFunc(s.list, func(x subscriber) bool {
		select {
		case <-x.done: // a nil done never is
			return true
		default:
			return false
		}
	})
}
