package main

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// observer is the backend's view, fed by every publish the broker routes:
// per device, which buffer seqs have arrived (batches name their range, so
// a resend after a reconnect merges instead of double counting) and how
// recent the newest reading of the gap-free prefix is.
type observer struct {
	messages atomic.Int64
	readings atomic.Int64
	badJSON  atomic.Int64

	mu      sync.Mutex
	devices map[string]*deviceView
	// onlineSince: births (retained status "online") after this instant are
	// recorded per device as reconnects.
	onlineSince time.Time
	online      map[string]time.Time
}

type deviceView struct {
	ranges  []seqRange // sorted, merged
	dropped int64
	dups    int64
}

// seqRange is first..last inclusive with the newest reading time in it.
type seqRange struct {
	first, last uint64
	newest      time.Time
}

func newObserver() *observer {
	return &observer{devices: map[string]*deviceView{}, online: map[string]time.Time{}}
}

// batch is the part of the stable JSON batch the observer needs.
type batch struct {
	Device   string `json:"device"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Count    int64  `json:"count"`
	Dropped  int64  `json:"dropped"`
	Readings []struct {
		TS time.Time `json:"ts"`
	} `json:"readings"`
}

// onMessage handles karana/<device>/data/<stream> and karana/<device>/status.
func (o *observer) onMessage(topic string, payload []byte) {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 {
		return
	}
	switch parts[2] {
	case "status":
		o.onStatus(parts[1], payload)
	case "data":
		o.onBatch(payload)
	}
}

func (o *observer) onStatus(device string, payload []byte) {
	var doc struct {
		State string `json:"state"`
	}
	if json.Unmarshal(payload, &doc) != nil || doc.State != "online" {
		return
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.onlineSince.IsZero() || now.Before(o.onlineSince) {
		return
	}
	if _, seen := o.online[device]; !seen {
		o.online[device] = now
	}
}

func (o *observer) onBatch(payload []byte) {
	var bt batch
	if err := json.Unmarshal(payload, &bt); err != nil || bt.FirstSeq == 0 || bt.LastSeq < bt.FirstSeq {
		o.badJSON.Add(1)
		return
	}
	o.messages.Add(1)
	o.readings.Add(bt.Count)
	var newest time.Time
	for _, r := range bt.Readings {
		if r.TS.After(newest) {
			newest = r.TS
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.devices[bt.Device]
	if d == nil {
		d = &deviceView{}
		o.devices[bt.Device] = d
	}
	d.dropped += bt.Dropped
	if d.covered(bt.FirstSeq, bt.LastSeq) {
		d.dups++
	}
	d.add(seqRange{bt.FirstSeq, bt.LastSeq, newest})
}

func (d *deviceView) covered(first, last uint64) bool {
	for _, r := range d.ranges {
		if r.first <= first && last <= r.last {
			return true
		}
	}
	return false
}

// add inserts r and merges ranges that overlap or touch.
func (d *deviceView) add(r seqRange) {
	d.ranges = append(d.ranges, r)
	sort.Slice(d.ranges, func(i, j int) bool { return d.ranges[i].first < d.ranges[j].first })
	merged := d.ranges[:1]
	for _, x := range d.ranges[1:] {
		m := &merged[len(merged)-1]
		if x.first <= m.last+1 {
			if x.last > m.last {
				m.last = x.last
			}
			if x.newest.After(m.newest) {
				m.newest = x.newest
			}
			continue
		}
		merged = append(merged, x)
	}
	d.ranges = merged
}

// prefix is the gap-free run of seqs from 1: how far the device has
// delivered everything, and the newest reading time within it.
func (d *deviceView) prefix() (last uint64, newest time.Time) {
	if len(d.ranges) == 0 || d.ranges[0].first != 1 {
		return 0, time.Time{}
	}
	return d.ranges[0].last, d.ranges[0].newest
}

// watchOnline starts recording births from now on (the broker restart).
func (o *observer) watchOnline(since time.Time) {
	o.mu.Lock()
	o.onlineSince = since
	clear(o.online)
	o.mu.Unlock()
}

// caughtUp counts devices whose gap-free prefix holds a reading taken at
// or after t: every reading sampled before t has reached the broker.
func (o *observer) caughtUp(ids []string, t time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, id := range ids {
		if d := o.devices[id]; d != nil {
			if _, newest := d.prefix(); !newest.Before(t) {
				n++
			}
		}
	}
	return n
}

// onlineTimes returns each reconnect as an offset from the restart.
func (o *observer) onlineTimes() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []time.Duration
	for _, at := range o.online {
		out = append(out, at.Sub(o.onlineSince))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// completeness summarises every device: how many have a gap-free history
// from seq 1, and the totals of gaps, announced drops and duplicates.
type completeness struct {
	Devices, Complete, Gaps int
	Dropped, Dups           int64
	Missing                 []string // devices never heard from or with gaps (first few)
}

func (o *observer) completeness(ids []string) completeness {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := completeness{Devices: len(ids)}
	for _, id := range ids {
		d := o.devices[id]
		if d == nil {
			c.Missing = append(c.Missing, id)
			continue
		}
		c.Dropped += d.dropped
		c.Dups += d.dups
		if len(d.ranges) == 1 && d.ranges[0].first == 1 {
			c.Complete++
		} else {
			c.Gaps += len(d.ranges) - 1
			c.Missing = append(c.Missing, id)
		}
	}
	if len(c.Missing) > 10 {
		c.Missing = c.Missing[:10]
	}
	return c
}
