package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/karana-energy/karana-edge/agent"
)

// boxConfig is one simulated box: its own device id, data dir (so its own
// bbolt ring) and a few sim sensors feeding one JSON stream that matches
// everything, so the stream's first_seq..last_seq ranges cover every buffer
// seq and the observer can prove nothing is missing.
func boxConfig(o Options, id, dir, broker string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[device]\nid = %q\ndata_dir = %q\n\n", id, dir)
	fmt.Fprintf(&b, "[buffer]\nmax_bytes = %q\ncommit_interval = %q\n\n", "4MiB", o.Commit)
	fmt.Fprintf(&b, "[mqtt]\nbroker = %q\nreconnect_min = %q\nreconnect_max = %q\n\n", broker, o.ReconnectMin, o.ReconnectMax)
	fmt.Fprintf(&b, "[[stream]]\nname = %q\nperiod = %q\nformat = \"json\"\nmatch = [\"*\"]\n\n", streamName, o.Period)
	waves := []string{"sine", "ramp", "counter", "random-walk", "solar"}
	for i := 0; i < o.Sensors; i++ {
		fmt.Fprintf(&b, "[[sensor]]\nname = \"s%d\"\ndriver = \"sim\"\nwaveform = %q\nresolution = 0.01\ninterval = %q\n\n",
			i, waves[i%len(waves)], o.Interval)
	}
	return b.String()
}

// streamName is the one stream every box runs.
const streamName = "raw"

// box is one running agent.
type box struct {
	id   string
	done chan error
}

// startBox builds and runs a real agent (agent.ParseConfig + agent.New +
// Run) in this process.
func startBox(ctx context.Context, o Options, i int, broker string, log *slog.Logger) (*box, error) {
	id := fmt.Sprintf("%s%04d", o.Prefix, i)
	dir := filepath.Join(o.DataDir, id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("box %s: %w", id, err)
	}
	cfg, err := agent.ParseConfig(id+".toml", []byte(boxConfig(o, id, dir, broker)))
	if err != nil {
		return nil, fmt.Errorf("box %s: config: %w", id, err)
	}
	a, err := agent.New(cfg, agent.Info{Version: "fleet"}, log.With("box", id))
	if err != nil {
		return nil, fmt.Errorf("box %s: %w", id, err)
	}
	bx := &box{id: id, done: make(chan error, 1)}
	go func() { bx.done <- a.Run(ctx) }()
	return bx, nil
}
