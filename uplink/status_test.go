package uplink

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

const statusTopic = "karana/" + dev + "/status"

func retainedDoc(h *harness) map[string]any {
	p, ok := h.b.Retained(statusTopic)
	if !ok {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		h.t.Fatalf("retained status %s: %v", p, err)
	}
	return m
}

// The retained birth document at connect, and the will when the connection
// dies without a DISCONNECT.
func TestStatusBirthAndWill(t *testing.T) {
	src := newMemSource(1)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, func(c *MQTTConfig, o *Options) {
		// reconnect slowly so the will stays the retained document while we look
		c.ReconnectMin, c.ReconnectMax = config.D(5*time.Second), config.D(10*time.Second)
		o.Status = func() map[string]any { return map[string]any{"buffer_depth": 42, "state": "ignored"} }
	})
	h.run()
	waitFor(t, "the online status", func() bool { d := retainedDoc(h); return d != nil && d["state"] == "online" })
	d := retainedDoc(h)
	if d["device"] != dev || d["version"] != "test" || d["buffer_depth"] != float64(42) {
		t.Errorf("online doc %v", d)
	}
	for _, k := range []string{"started_at", "connected_at"} {
		s, _ := d[k].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s = %q: %v", k, d[k], err)
		}
	}
	// the birth document goes out from connect, a moment before the
	// session is installed: Connected() follows, it does not precede
	waitFor(t, "Connected() while online", h.u.Connected)

	if n := h.b.DropClients(dev); n != 1 {
		t.Fatalf("dropped %d clients, want 1 (client id defaults to the device id)", n)
	}
	waitFor(t, "the will", func() bool { d := retainedDoc(h); return d != nil && d["state"] == "offline" })
	if d := retainedDoc(h); len(d) != 2 || d["device"] != dev {
		t.Errorf("will doc %v, want {state: offline, device: %s}", d, dev)
	}
	waitFor(t, "the uplink to see the loss", func() bool { return h.u.Stats().Disconnects == 1 })
	if st := h.u.Stats(); st.Connected || st.LastError == "" {
		t.Errorf("stats after the drop: %+v", st)
	}
}

// Shutdown publishes what is pending (here: readings a one-hour period
// would only send later), then the retained offline document.
func TestShutdownPublishesPending(t *testing.T) {
	src := newMemSource(3)
	src.Append(50)
	h := newHarness(t, src, []StreamConfig{streamCfg("raw", time.Hour, 100)}, nil)
	h.run()
	h.waitCursor("raw", 50)
	src.Append(500)
	if err := h.u.Shutdown(10 * time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if c := src.Cursor("raw"); c != 550 {
		t.Errorf("cursor %d after Shutdown, want 550", c)
	}
	select {
	case err := <-h.runErr: // Run has returned once Shutdown has; allow for the send
		h.runErr <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Error("Run still running after Shutdown returned")
	}
	d := retainedDoc(h)
	if d["state"] != "offline" || d["reason"] != "shutdown" || d["device"] != dev {
		t.Errorf("status after shutdown: %v", d)
	}
	h.check("raw", 550, nil)
	if err := h.u.Shutdown(time.Second); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := h.u.Run(context.Background()); err != nil {
		t.Errorf("Run after Shutdown: %v", err)
	}
}

// Shutdown returns within its bound when the broker is gone or stalls, and
// says how much stays buffered.
func TestShutdownBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(h *harness)
	}{
		{"broker gone", func(h *harness) {
			h.b.Stop()
			waitFor(h.t, "disconnect", func() bool { return !h.u.Connected() })
		}},
		{"broker stalled", func(h *harness) {
			release := h.b.HoldPublishes("")
			h.t.Cleanup(func() {
				// once the broker gets going again it must end up showing
				// the device offline: no clean DISCONNECT discarded the will
				release()
				waitFor(h.t, "offline status", func() bool { return retainedDoc(h)["state"] == "offline" })
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newMemSource(3)
			src.Append(10)
			h := newHarness(t, src, []StreamConfig{streamCfg("raw", 0, 100)}, func(c *MQTTConfig, _ *Options) {
				c.PublishTimeout = config.D(30 * time.Second)
				c.ReconnectMin, c.ReconnectMax = config.D(50*time.Millisecond), config.D(100*time.Millisecond)
			})
			h.run()
			h.waitCursor("raw", 10)
			tc.fault(h)
			src.Append(100)
			const bound = 700 * time.Millisecond
			start := time.Now()
			err := h.u.Shutdown(bound)
			took := time.Since(start)
			if took > bound+500*time.Millisecond {
				t.Errorf("Shutdown(%s) took %s", bound, took)
			}
			if err == nil || !strings.Contains(err.Error(), "100 readings") {
				t.Errorf("Shutdown error %v, want one saying 100 readings stay buffered", err)
			}
			if c := src.Cursor("raw"); c != 10 {
				t.Errorf("cursor moved to %d without PUBACKs", c)
			}
		})
	}
}

func TestPublishStatusOnRequest(t *testing.T) {
	src := newMemSource(1)
	var depth atomic.Int64
	depth.Store(1)
	h := newHarness(t, src, nil, func(_ *MQTTConfig, o *Options) {
		o.Status = func() map[string]any { return map[string]any{"buffer_depth": depth.Load()} }
	})
	if err := h.u.PublishStatus(); err == nil {
		t.Error("PublishStatus before connecting succeeded")
	}
	h.run()
	waitFor(t, "connect", h.u.Connected)
	waitFor(t, "the online status", func() bool { return retainedDoc(h)["buffer_depth"] == float64(1) })
	depth.Store(7)
	if err := h.u.PublishStatus(); err != nil {
		t.Fatal(err)
	}
	if d := retainedDoc(h); d["buffer_depth"] != float64(7) || d["state"] != "online" {
		t.Errorf("status after PublishStatus: %v", d)
	}
}
