package vedirect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Reopen backoff: a USB cable pulled out comes back as the same device
// within seconds, a device that is gone costs one open every maxRetry.
const (
	firstRetry = 500 * time.Millisecond
	maxRetry   = 10 * time.Second
)

// startLocked starts the reader goroutine.
func (s *Sensor) startLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	s.started = s.now()
	if s.notify == nil {
		s.notify = make(chan struct{})
	}
	if s.latest == nil {
		s.latest = map[string]entry{}
	}
	go s.run(ctx, s.done)
}

// run opens the port and reads it until ctx ends, reopening it with
// backoff whenever it fails: a cable pulled out mid-block, a USB adapter
// that re-enumerates, a device that is switched off.
func (s *Sensor) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	wait := s.retry
	for ctx.Err() == nil {
		port, err := s.open(s.o.Port)
		if err != nil {
			s.portFailed(fmt.Errorf("open: %w", err))
		} else if s.readPort(ctx, port) {
			wait = s.retry // it worked for a while: retry soon
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, maxRetry)
	}
}

// readPort feeds the parser from port until a read fails or ctx ends, and
// closes port; true when at least one good block came.
func (s *Sensor) readPort(ctx context.Context, port io.ReadCloser) (good bool) {
	s.mu.Lock()
	s.cur = port
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
		_ = port.Close()
	}()
	if ctx.Err() != nil {
		return false
	}
	var p Parser
	first := true // the first block may have been opened into mid-way
	buf := make([]byte, 512)
	for {
		n, err := port.Read(buf)
		p.Feed(buf[:n], func(r Result) {
			if r.Bad == "" {
				good = true
				s.block(r.Fields)
			} else if !first {
				s.dropped(r.Bad)
			}
			first = false
		})
		switch {
		case ctx.Err() != nil:
			return good
		case err != nil:
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.portFailed(fmt.Errorf("read: %w", err))
			return good
		}
	}
}

// block stores a good block's fields.
func (s *Sensor) block(fields []Field) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portErr != nil {
		s.log.Info("vedirect: port reading again", "port", s.o.Port, "after", s.portErr)
		s.portErr = nil
	}
	id := s.ident
	for _, f := range fields {
		switch f.Label {
		case "PID":
			id.pid = f.Value
		case "SER#":
			id.serial = f.Value
		case "FW", "FWE":
			id.fw = f.Value
		default:
			// Only the labels that can become series: a noisy line whose
			// garbage passed the checksum must not grow the map.
			if _, ok := labels[f.Label]; ok {
				s.latest[f.Label] = entry{value: f.Value, at: now}
			}
		}
	}
	if id != s.ident {
		s.ident = id
		s.log.Info("vedirect device", "port", s.o.Port, "pid", id.pid, "serial", id.serial, "firmware", id.fw)
	}
	s.lastGood, s.answered = now, true
	close(s.notify)
	s.notify = make(chan struct{})
}

// dropped counts a bad block; the first and every hundredth are logged.
func (s *Sensor) dropped(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bad++
	s.badWhy = why
	if s.bad == 1 || s.bad%100 == 0 {
		s.log.Warn("vedirect: block dropped", "port", s.o.Port, "reason", why, "dropped", s.bad)
	}
}

// portFailed records an open or read error, logging when it changes.
func (s *Sensor) portFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portErr == nil || s.portErr.Error() != err.Error() {
		s.log.Warn("vedirect: port failed; reopening with backoff", "port", s.o.Port, "err", err)
	}
	s.portErr = err
	// Wake a waiting Read: a port that does not exist is reported at once.
	close(s.notify)
	s.notify = make(chan struct{})
}
