package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"
)

// MQTT 3.1.1 packet sizes (spec §2-3): what one chunk costs on the link
// besides its bytes, counted in the data budget like a data batch.

// remLen is the size of a packet with rem bytes after its fixed header.
func remLen(rem int) int64 {
	n := 1
	for r := rem; r >= 128; r >>= 7 {
		n++
	}
	return int64(1 + n + rem)
}

// publishCost is a QoS 1 PUBLISH of payload bytes on topic and its PUBACK.
func publishCost(topic string, payload int) int64 { return remLen(2+len(topic)+2+payload) + 4 }

// subscribeCost is a SUBSCRIBE of one filter at QoS 1 and its SUBACK, an
// UNSUBSCRIBE of it and its UNSUBACK.
func subscribeCost(topic string) int64 {
	return remLen(2+2+len(topic)+1) + 5 + remLen(2+2+len(topic)) + 4
}

// errMissing is a chunk the broker did not deliver in time: not published
// (yet), or its retained message expired.
var errMissing = errors.New("chunk not delivered")

// fetch downloads p's chunks from prog.Verified on, each verified against
// the document and stored before the next; it returns a different document
// that arrived meanwhile with errSuperseded.
func (u *Updater) fetch(ctx context.Context, d *Document, p *Payload, prog *progress) ([]byte, error) {
	env, _ := os.ReadFile(u.o.Store.Path(DownloadDoc))
	part, err := os.OpenFile(u.o.Store.Path(DownloadPart), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer part.Close()
	// Whatever follows the verified chunks was written before a cut and
	// never verified.
	if err := part.Truncate(min(int64(prog.Verified)*int64(p.ChunkSize), p.Size)); err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	u.log.Info("update: downloading", "version", d.Version, "encoding", p.Encoding, "bytes", p.Size,
		"chunks", len(p.Chunks), "verified", prog.Verified)
	u.PublishState()
	for prog.Verified < len(p.Chunks) {
		select {
		case next := <-u.docs:
			if !bytes.Equal(next, env) {
				return next, errSuperseded
			}
		default:
		}
		if err := u.waitReady(ctx); err != nil {
			return nil, err
		}
		u.watchSession()
		i := prog.Verified
		data, cost, err := u.getChunk(ctx, p, i)
		prog.Bytes += cost
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			u.log.Warn("update: chunk not received; will retry", "chunk", i, "topic", p.ChunkTopic(i), "err", err)
			sleepCtx(ctx, u.o.Retry)
			continue
		}
		if len(data) != p.ChunkLen(i) || hexSum(sha256.Sum256(data)) != p.Chunks[i] {
			return nil, fmt.Errorf("chunk %d (%s): %d bytes whose SHA-256 is not the document's (tampered or corrupted); nothing installed",
				i, p.ChunkTopic(i), len(data))
		}
		if _, err := part.WriteAt(data, int64(i)*int64(p.ChunkSize)); err != nil {
			return nil, fmt.Errorf("download: %w", err)
		}
		if err := part.Sync(); err != nil {
			return nil, fmt.Errorf("download: %w", err)
		}
		prog.Verified++
		if err := u.saveProgress(*prog); err != nil {
			return nil, fmt.Errorf("download: %w", err)
		}
		u.o.Fault("chunk")
		if n := len(p.Chunks); prog.Verified == n || prog.Verified%max(1, n/4) == 0 {
			u.PublishState()
		}
	}
	return nil, nil
}

// waitReady blocks until the link may carry a chunk.
func (u *Updater) waitReady(ctx context.Context) error {
	logged := ""
	for {
		ok, why := u.o.Link().Ready()
		if ok {
			return nil
		}
		if why != logged {
			u.log.Info("update: download waiting", "reason", why)
			logged = why
		}
		if err := sleepCtx(ctx, min(u.o.Retry, time.Second)); err != nil {
			return err
		}
	}
}

// getChunk subscribes to chunk i's retained message, waits for it and
// unsubscribes; it returns the payload and what it cost on the wire.
func (u *Updater) getChunk(ctx context.Context, p *Payload, i int) ([]byte, int64, error) {
	l := u.o.Link()
	sess := l.Session()
	topic := p.ChunkTopic(i)
	ch := make(chan []byte, 1)
	err := l.Subscribe(topic, func(t string, b []byte) {
		if t != topic {
			return
		}
		select {
		case ch <- bytes.Clone(b):
		default:
		}
	})
	cost := subscribeCost(topic)
	l.CountWire(cost)
	if err != nil {
		return nil, cost, err
	}
	defer func() {
		if err := l.Unsubscribe(topic); err != nil {
			u.log.Debug("update: unsubscribe", "topic", topic, "err", err)
		}
	}()
	t := time.NewTimer(u.o.ChunkWait)
	defer t.Stop()
	// A subscription dies with its session: a link cut ends the wait at
	// once, and the chunk is asked for again on the next session.
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case b := <-ch:
			c := publishCost(topic, len(b))
			l.CountWire(c)
			return b, cost + c, nil
		case <-t.C:
			return nil, cost, fmt.Errorf("%w within %s", errMissing, u.o.ChunkWait)
		case <-poll.C:
			if l.Session() != sess {
				return nil, cost, errors.New("link cut while waiting for the chunk")
			}
		case <-ctx.Done():
			return nil, cost, ctx.Err()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ChunkWire is what fetching one chunk of n bytes on topic costs on the
// link: SUBSCRIBE/SUBACK, the PUBLISH and its PUBACK, UNSUBSCRIBE/UNSUBACK.
func ChunkWire(topic string, n int) int64 { return subscribeCost(topic) + publishCost(topic, n) }
