//go:build karana_testhooks

package main

import (
	"os"
	"time"

	"github.com/karana-energy/karana-edge/agent"
)

// testBehaviour makes a test build a bad release (set with -ldflags
// -X main.testBehaviour=...): "exit" dies before it logs anything, "hang"
// hangs before readiness, "noconnect" runs but never reaches the broker.
var testBehaviour string

func init() {
	if len(os.Args) < 2 || os.Args[1] != "run" {
		return
	}
	switch testBehaviour {
	case "exit":
		os.Exit(3)
	case "hang":
		time.Sleep(time.Hour)
	}
}

func testAdjust(cfg *agent.Config) *agent.Config {
	if testBehaviour == "noconnect" {
		cfg.MQTT.Broker = "tcp://127.0.0.1:1"
	}
	return cfg
}
