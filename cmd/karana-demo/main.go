// Command karana-demo runs a simulated Karana box against an MQTT broker
// embedded in this program and prints what the backend receives. Part way
// through it cuts the link, so you can watch readings pile up in the buffer
// and then drain, in order, with nothing lost.
//
// The embedded broker is a test and demo tool: it is never linked into the
// karana-edge device binary.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/internal/testbroker"

	_ "github.com/karana-energy/karana-edge/sensors/sim"
	_ "github.com/karana-energy/karana-edge/uplink/format"
)

const demoConfig = `
[device]
id = "demo-box"
data_dir = %q

[log]
level = "warn"

[http]
listen = %q

[buffer]
max_bytes = "8MiB"
commit_interval = "1s"

[mqtt]
broker = "tcp://%s"
reconnect_min = "500ms"
reconnect_max = "2s"

[[sensor]]
name = "pv"
driver = "sim"
waveform = "solar"
amplitude = 4200
resolution = 0.1
unit = "W"
interval = "1s"

[[sensor]]
name = "battery"
driver = "sim"
waveform = "sine"
field = "voltage"
offset = 51.2
amplitude = 1.5
period = "2m"
resolution = 0.001
unit = "V"
interval = "1s"

[[sensor]]
name = "load"
driver = "sim"
waveform = "random-walk"
offset = 800
amplitude = 300
resolution = 0.1
unit = "W"
interval = "1s"

[[sensor]]
name = "energy"
driver = "sim"
waveform = "counter"
resolution = 1
unit = "Wh"
interval = "2s"

[[stream]]
name = "raw"
period = "%s"
format = "json"
match = ["*"]
`

func main() {
	period := flag.Duration("period", 5*time.Second, "batch period of the demo stream")
	cutAt := flag.Duration("cut-at", 20*time.Second, "when to cut the link")
	cutFor := flag.Duration("cut-for", 20*time.Second, "how long the link stays down")
	duration := flag.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	addr := flag.String("addr", "127.0.0.1:0", "embedded broker listen address")
	page := flag.String("http", "127.0.0.1:8080", "the technician's page (loopback; \"127.0.0.1:0\" picks a free port)")
	flag.Parse()
	if err := run(*period, *cutAt, *cutFor, *duration, *addr, *page, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "karana-demo:", err)
		os.Exit(1)
	}
}

// batch is the part of the json format the demo shows.
type batch struct {
	Stream   string `json:"stream"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Count    int    `json:"count"`
	Dropped  uint64 `json:"dropped"`
	Readings []struct {
		Seq   uint64  `json:"seq"`
		Name  string  `json:"name"`
		TS    string  `json:"ts"`
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
	} `json:"readings"`
}

// backend is what the demo's "backend" has seen; it checks the contract as
// it prints: ranges contiguous unless `dropped` says why not.
type backend struct {
	mu       sync.Mutex
	out      io.Writer
	next     uint64
	readings int
	gaps     int
	dups     int
}

func (b *backend) onMessage(topic string, payload []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now().Format("15:04:05")
	if strings.HasSuffix(topic, "/status") {
		var st map[string]any
		json.Unmarshal(payload, &st)
		if st["state"] != "online" {
			why := "the box's last will: its link died"
			if r, ok := st["reason"].(string); ok {
				why = r
			}
			fmt.Fprintf(b.out, "%s  status   %v (%s)\n", now, st["state"], why)
			return
		}
		fmt.Fprintf(b.out, "%s  status   %v  buffer_depth=%v  oldest_unsent_age_s=%v\n", now, st["state"], st["buffer_depth"], st["oldest_unsent_age_s"])
		return
	}
	var bt batch
	if err := json.Unmarshal(payload, &bt); err != nil {
		fmt.Fprintf(b.out, "%s  %s: undecodable payload: %v\n", now, topic, err)
		return
	}
	note := ""
	switch {
	case b.next == 0:
	case bt.FirstSeq == b.next:
	case bt.FirstSeq < b.next:
		b.dups++
		note = "  (resent after reconnect: at-least-once)"
	case bt.Dropped > 0:
		note = fmt.Sprintf("  (buffer overflow announced: %d dropped)", bt.Dropped)
	default:
		b.gaps++
		note = "  !! GAP without dropped"
	}
	if bt.LastSeq+1 > b.next {
		b.next = bt.LastSeq + 1
	}
	b.readings += bt.Count
	sample := ""
	if n := len(bt.Readings); n > 0 {
		r := bt.Readings[n-1]
		sample = fmt.Sprintf("  last: %s=%g%s @%s", r.Name, r.Value, r.Unit, r.TS)
	}
	fmt.Fprintf(b.out, "%s  %-7s seq %6d..%-6d count %4d dropped %d%s%s\n", now, bt.Stream, bt.FirstSeq, bt.LastSeq, bt.Count, bt.Dropped, sample, note)
}

func run(period, cutAt, cutFor, duration time.Duration, addr, page string, out io.Writer) error {
	broker, err := testbroker.Start(nil, addr)
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer broker.Stop()

	be := &backend{out: out}
	broker.Subscribe("karana/demo-box/#", be.onMessage)

	dir, err := os.MkdirTemp("", "karana-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	text := fmt.Sprintf(demoConfig, dir, page, broker.Addr(), period)
	cfg, err := agent.ParseConfig("demo.toml", []byte(text))
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.New(cfg, agent.Info{Version: "demo"}, log)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	fmt.Fprintf(out, "karana-demo: a simulated box (4 sensors, 1 s) → buffer → MQTT broker on %s\n", broker.Addr())
	fmt.Fprintf(out, "             batches every %s; the link is cut at +%s for %s. Ctrl-C to stop.\n", period, cutAt, cutFor)
	pageShown := make(chan struct{})
	go func() {
		defer close(pageShown)
		// The page starts with Run, a moment from now.
		for i := 0; i < 100 && ctx.Err() == nil; i++ {
			if a := a.HTTPAddr(); a != "" {
				fmt.Fprintf(out, "             the technician's page: http://%s/ (live values, plots, export, /metrics)\n\n", a)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(out, "             the technician's page did not start (is %s taken? -http picks another address)\n\n", page)
	}()

	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(cutAt):
		}
		fmt.Fprintf(out, "%s  ✂ link cut: the broker goes away for %s; readings keep going into the buffer\n", time.Now().Format("15:04:05"), cutFor)
		broker.Stop()
		select {
		case <-ctx.Done():
			return
		case <-time.After(cutFor):
		}
		if err := broker.Restart(); err != nil {
			fmt.Fprintf(out, "broker restart failed: %v\n", err)
			return
		}
		fmt.Fprintf(out, "%s  ⚡ link back: watch the backlog drain in seq order\n", time.Now().Format("15:04:05"))
	}()

	err = a.Run(ctx)
	<-pageShown
	be.mu.Lock()
	defer be.mu.Unlock()
	fmt.Fprintf(out, "\nbackend received %d readings; gaps without `dropped`: %d; resent batches: %d\n", be.readings, be.gaps, be.dups)
	if err != nil {
		return err
	}
	if be.gaps > 0 {
		return fmt.Errorf("%d unexplained gaps in seq", be.gaps)
	}
	return nil
}
