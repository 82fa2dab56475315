package uplink

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// Streams are reconfigured in place (Reconfigure): a remote config or a
// SIGHUP that changes [[stream]] stops the streams that changed or went
// and starts the new ones on the session that is up, so the MQTT
// connection, its subscriptions and what the broker has yet to deliver on
// them stay. A reconnect (a new Uplink) is for what the connection itself
// is made of: [mqtt]. Nothing is lost by stopping a stream: its cursor is
// in the buffer, and the new stream resends from it what the old one had
// in flight (at least once, as after any reconnect). A stream whose config
// did not change keeps running, window and all.

// streamSet is the uplink's stream goroutines.
type streamSet struct {
	reconf sync.Mutex // serialises Reconfigure

	// guarded by Uplink.mu
	runs map[*stream]*streamRun
	ctx  context.Context // Run's context while Run runs streams, else nil
}

// streamRun is one running stream goroutine.
type streamRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// list is the current streams; Reconfigure replaces the slice, never
// changes it.
func (u *Uplink) list() []*stream {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.streams
}

// buildStreams validates cfgs and makes their streams, reusing a stream of
// running whose config is unchanged.
func (u *Uplink) buildStreams(cfgs []StreamConfig, running []*stream) ([]*stream, error) {
	seen := map[string]bool{}
	var out []*stream
	for i := range cfgs {
		sc := cfgs[i]
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("uplink: stream[%d] %q: %w", i, sc.Name, err)
		}
		if seen[sc.Name] {
			return nil, fmt.Errorf("uplink: stream[%d]: duplicate stream name %q", i, sc.Name)
		}
		seen[sc.Name] = true
		if s := findStream(running, sc.Name); s != nil && reflect.DeepEqual(s.cfg, sc) {
			out = append(out, s)
			continue
		}
		s, err := newStream(u, sc)
		if err != nil {
			return nil, fmt.Errorf("uplink: stream[%d] %q: %w", i, sc.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func findStream(list []*stream, name string) *stream {
	for _, s := range list {
		if s.name == name {
			return s
		}
	}
	return nil
}

func maxBatchBytes(cfgs []StreamConfig) int64 {
	var n int64
	for i := range cfgs {
		n = max(n, int64(cfgs[i].MaxBatchBytes))
	}
	return n
}

// startLocked starts s under Run's context; u.mu is held and Run runs.
func (u *Uplink) startLocked(s *stream) {
	ctx, cancel := context.WithCancel(u.set.ctx)
	r := &streamRun{cancel: cancel, done: make(chan struct{})}
	u.set.runs[s] = r
	go func() {
		defer close(r.done)
		s.run(ctx)
	}()
}

// startStreams starts every stream under ctx (Run's).
func (u *Uplink) startStreams(ctx context.Context) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.set.ctx, u.set.runs = ctx, map[*stream]*streamRun{}
	for _, s := range u.streams {
		u.startLocked(s)
	}
}

// stopStreams stops every stream and waits for them: they must be off the
// buffer before Run returns and the buffer closes. No stream starts after.
func (u *Uplink) stopStreams() {
	u.mu.Lock()
	runs := u.set.runs
	u.set.ctx, u.set.runs = nil, nil
	u.mu.Unlock()
	for _, r := range runs {
		r.cancel()
	}
	for _, r := range runs {
		<-r.done
	}
}

// Reconfigure replaces the streams with cfgs on the running uplink, on the
// session that is up: streams whose config changed or that went are
// stopped (their cursors are in the buffer), new and changed ones start
// from their cursors, unchanged ones keep running. It works before and
// after Run too. On error (an invalid stream) nothing has changed.
func (u *Uplink) Reconfigure(cfgs []StreamConfig) error {
	u.set.reconf.Lock()
	defer u.set.reconf.Unlock()
	old := u.list()
	next, err := u.buildStreams(cfgs, old)
	if err != nil {
		return err
	}
	kept := map[*stream]bool{}
	for _, s := range next {
		kept[s] = true
	}
	u.mu.Lock()
	var stopping []*streamRun
	for _, s := range old {
		if r := u.set.runs[s]; r != nil && !kept[s] {
			r.cancel()
			stopping = append(stopping, r)
			delete(u.set.runs, s)
		}
	}
	u.mu.Unlock()
	for _, r := range stopping {
		<-r.done
	}

	u.limiter.setBurst(maxBatchBytes(cfgs))
	sess, _ := u.current()
	var started []*stream
	for _, s := range next {
		if slices.Contains(old, s) {
			continue
		}
		// built before the old one stopped: its cursor may have moved since
		s.cursor.Store(u.src.Cursor(s.name))
		if prev := findStream(old, s.name); prev != nil {
			s.inherit(prev)
		}
		if sess != nil {
			s.draining.Store(s.backlog() > 0) // as markDraining at a connect
		}
		started = append(started, s)
	}
	u.mu.Lock()
	u.streams = next
	if u.set.ctx != nil {
		for _, s := range started {
			u.startLocked(s)
		}
	}
	u.mu.Unlock()
	for _, s := range next {
		s.poke() // one held behind a stream that went may go now
	}
	u.log.Info("streams reconfigured in place", "streams", len(next), "restarted", len(started),
		"stopped", len(stopping), "connected", sess != nil)
	return nil
}

// inherit carries a replaced stream's counters over, so that the status
// document's totals do not drop when a stream is re-tuned.
func (s *stream) inherit(prev *stream) {
	s.batches.Store(prev.batches.Load())
	s.readings.Store(prev.readings.Load())
	s.bytes.Store(prev.bytes.Load())
	s.dropped.Store(prev.dropped.Load())
	s.resends.Store(prev.resends.Load())
	s.splits.Store(prev.splits.Load())
	prev.mu.Lock()
	last, lastErr := prev.lastPublish, prev.lastErr
	prev.mu.Unlock()
	s.mu.Lock()
	s.lastPublish, s.lastErr = last, lastErr
	s.mu.Unlock()
}

// setBurst resizes the bucket for the streams' largest max_batch_bytes.
func (l *limiter) setBurst(maxBatch int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.burst = max(2*l.rate, float64(maxBatch))
	l.tokens = min(l.tokens, l.burst)
}
