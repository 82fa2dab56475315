package uplink

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The publish and acknowledge path of a stream's batches: the shared rate
// limit (ratelimit.go), the publish at QoS 1, the bytes counted against
// the data budget (budget.go), and, once the broker's PUBACK comes back in
// window order, the cursor and the counters.

// errStopped ends a session's serve quietly: the stream's context is done
// or the session is gone, and what was in flight is resent from the cursor
// by the next session.
var errStopped = errors.New("stream stopped or session gone")

// publisher sends one stream's batches.
type publisher struct {
	topic   string
	limiter *limiter // nil: no rate limit
	meter   *meter
}

// send waits for the rate limit, publishes the batch and counts its bytes;
// the pending batch it returns awaits its PUBACK. errStopped when ctx or
// the session ends first.
func (pb *publisher) send(ctx context.Context, sess *session, nb *built) (*pending, error) {
	n := len(nb.payload)
	if err := pb.limiter.take(ctx, wireBytes(pb.topic, n), sess.done); err != nil {
		if nb.buf != nil {
			payloadPool.Put(nb.buf)
		}
		return nil, errStopped
	}
	tok, err := publishAsync(ctx, sess, pb.topic, false, nb.payload)
	if err != nil {
		if ctx.Err() != nil || sess.lost() {
			return nil, errStopped
		}
		return nil, err
	}
	pb.meter.add(pb.topic, n)
	b := &nb.batch
	if isDone(tok) && tok.Error() != nil {
		// paho refused it without sending (write timeout, no message id):
		// publishing the next batch now would put a gap on the wire before
		// the resend fills it. When the session is lost paho fails every
		// token: not this stream's failure to report.
		if sess.lost() {
			return nil, errStopped
		}
		return nil, fmt.Errorf("publish batch %d..%d: %w", b.FirstSeq, b.LastSeq, tok.Error())
	}
	return &pending{
		first: b.FirstSeq, last: b.LastSeq, count: len(b.Readings), dropped: b.Dropped,
		size: n, tok: tok, sent: time.Now(), buf: nb.buf,
	}, nil
}

// ackDone moves the cursor over the leading batches the broker has
// acknowledged, in window order (spans sent ahead are kept instead), and
// counts them. An error when a batch in the window failed.
func (s *stream) ackDone() error {
	for {
		p, err := s.win.popAcked()
		if err != nil {
			return err
		}
		if p == nil {
			return s.win.failed()
		}
		if !p.ahead {
			s.u.src.Ack(s.name, p.last)
			s.cursor.Store(p.last)
		}
		if p.tok != nil {
			s.acked(p)
		}
	}
}

// acked records a batch the broker acknowledged.
func (s *stream) acked(p *pending) {
	s.batches.Add(1)
	s.readings.Add(uint64(p.count))
	s.bytes.Add(uint64(p.size))
	s.dropped.Add(p.dropped)
	s.u.progress.Add(1)
	s.mu.Lock()
	s.lastPublish = time.Now()
	s.lastErr = ""
	s.mu.Unlock()
	if p.buf != nil && cap(*p.buf) <= 4<<20 {
		payloadPool.Put(p.buf)
	}
	p.buf = nil
}
