package main

import (
	"testing"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// startExternal starts a broker the fleet treats as external (only its URL
// is passed on), standing in for a Mosquitto the harness cannot restart.
func startExternal(t *testing.T) (string, error) {
	b, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	return b.URL(), nil
}
