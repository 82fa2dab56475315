//go:build !karana_testhooks

package main

import "github.com/karana-energy/karana-edge/agent"

// testAdjust changes nothing outside test builds.
func testAdjust(cfg *agent.Config) *agent.Config { return cfg }
