package agent

import (
	"fmt"
	"sync"

	"github.com/karana-energy/karana-edge/remote"
)

// The inbound queue: config/set and cmd/* messages wait here, in the order
// the broker delivered them, between paho's router goroutine (which only
// queues: see uplink/inbound.go) and the one worker that handles them
// (startRemote). It belongs to the agent, not to a connection, so messages
// already received survive a reconnect, and it exists before the worker
// starts.
//
// It is bounded, and every message still gets exactly one answer, in
// order: a payload over its size limit, or one arriving while the queue
// holds maxQueued messages or maxQueuedBytes, is queued as a refusal
// without its payload (a few dozen bytes) and answered "rejected" when its
// turn comes. Only a flood of more than maxRefusals refusals waiting at
// once is dropped unanswered (counted and logged).
const (
	maxQueued      = 64
	maxQueuedBytes = 4 * remote.MaxDocument
	maxRefusals    = 1024
)

// inboundMsg is one queued message; refused is set for a message answered
// without being read, version then is its sniffed version (config/set).
type inboundMsg struct {
	topic   string
	payload []byte
	refused error
	version int64
	// retained: the broker delivered it with the retain flag (a
	// retained config/set, sent again at every subscribe)
	retained bool
}

type inboundQueue struct {
	mu       sync.Mutex
	items    []inboundMsg
	held     int // items with a payload
	bytes    int // their payload bytes
	refusals int // items without
	dropped  uint64
	wake     chan struct{}
}

func newInboundQueue() *inboundQueue {
	return &inboundQueue{wake: make(chan struct{}, 1)}
}

// push queues a copy of payload, or its refusal when its size is over
// limit bytes or the queue is full; payload is the message, or its first
// bytes when the uplink cut it (size is the message's). It returns false
// when even the refusal was dropped. It never blocks on anything but the
// queue's lock, and copies nothing it refuses.
func (q *inboundQueue) push(topic string, payload []byte, size int64, limit int, isSet bool) bool {
	return q.pushMsg(inboundMsg{topic: topic}, payload, size, limit, isSet)
}

// pushMsg is push for m's topic, keeping m's flags.
func (q *inboundQueue) pushMsg(m inboundMsg, payload []byte, size int64, limit int, isSet bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case size > int64(limit):
		m.refused = remote.CheckSize(int(min(size, 1<<62)))
		if !isSet {
			m.refused = fmt.Errorf("body is %d bytes; the size limit is %d bytes", size, limit)
		}
	case q.held >= maxQueued || q.bytes+len(payload) > maxQueuedBytes:
		m.refused = fmt.Errorf("not processed: %d messages (%d bytes) were waiting, the queue limit is %d messages or %d bytes; send it again later",
			q.held, q.bytes, maxQueued, maxQueuedBytes)
	default:
		m.payload = append([]byte(nil), payload...)
	}
	if m.refused != nil {
		if q.refusals >= maxRefusals {
			q.dropped++
			return false
		}
		if isSet {
			m.version = remote.SniffVersion(payload)
		}
		q.refusals++
	} else {
		q.held++
		q.bytes += len(m.payload)
	}
	q.items = append(q.items, m)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest message.
func (q *inboundQueue) pop() (inboundMsg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		q.items = nil // let a burst's backing array go
		return inboundMsg{}, false
	}
	m := q.items[0]
	q.items[0] = inboundMsg{}
	q.items = q.items[1:]
	if m.refused != nil {
		q.refusals--
	} else {
		q.held--
		q.bytes -= len(m.payload)
	}
	return m, true
}
