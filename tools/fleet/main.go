package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run()) }

func run() int {
	o := DefaultOptions()
	flag.IntVar(&o.Boxes, "boxes", o.Boxes, "number of simulated boxes")
	flag.IntVar(&o.Sensors, "sensors", o.Sensors, "sim sensors per box")
	flag.DurationVar(&o.Interval, "interval", o.Interval, "sampling interval of every sensor")
	flag.DurationVar(&o.Period, "period", o.Period, "stream batch period")
	flag.DurationVar(&o.Commit, "commit", o.Commit, "buffer commit_interval")
	flag.DurationVar(&o.ReconnectMin, "reconnect-min", o.ReconnectMin, "[mqtt] reconnect_min of every box")
	flag.DurationVar(&o.ReconnectMax, "reconnect-max", o.ReconnectMax, "[mqtt] reconnect_max of every box")
	flag.DurationVar(&o.Steady, "steady", o.Steady, "steady-state measurement window")
	flag.DurationVar(&o.Outage, "outage", o.Outage, "broker outage length (0: none)")
	flag.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "give up on the drain after this")
	flag.DurationVar(&o.StartSpread, "start-spread", o.StartSpread, "start the boxes evenly over this")
	flag.StringVar(&o.Broker, "broker", "", "external broker tcp://host:port (default: an embedded one)")
	flag.StringVar(&o.Addr, "addr", o.Addr, "embedded broker listen address")
	flag.StringVar(&o.DataDir, "data", "", "parent of the boxes' data dirs (default: a temporary dir, removed after)")
	flag.StringVar(&o.Prefix, "prefix", o.Prefix, "device id prefix")
	verbose := flag.Bool("v", false, "show the boxes' warnings")
	flag.Parse()

	if *verbose {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.DataDir == "" {
		dir, err := os.MkdirTemp("", "karana-fleet-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		o.DataDir = dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, o, func(s string) { fmt.Fprintln(os.Stderr, "fleet:", s) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rep.Print(os.Stdout)
	if err := rep.OK(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
