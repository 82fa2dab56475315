package main

import (
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"
)

// meter answers as unit 5 with an Eastron SDM's 50.0 Hz at input 0x0046;
// other units are absent behind the "gateway".
type meter struct{}

func (meter) HandleCoils(*mb.CoilsRequest) ([]bool, error) { return nil, mb.ErrIllegalFunction }
func (meter) HandleDiscreteInputs(*mb.DiscreteInputsRequest) ([]bool, error) {
	return nil, mb.ErrIllegalFunction
}
func (meter) HandleHoldingRegisters(r *mb.HoldingRegistersRequest) ([]uint16, error) {
	if r.UnitId != 5 {
		return nil, mb.ErrGWTargetFailedToRespond
	}
	return nil, mb.ErrIllegalDataAddress
}
func (meter) HandleInputRegisters(r *mb.InputRegistersRequest) ([]uint16, error) {
	if r.UnitId != 5 {
		return nil, mb.ErrGWTargetFailedToRespond
	}
	if r.Addr == 0x46 && r.Quantity == 2 {
		return []uint16{0x4248, 0x0000}, nil
	}
	return nil, mb.ErrIllegalDataAddress
}

// startMeter serves meter{} on a free port and returns its tcp:// URL.
func startMeter(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + ln.Addr().String()
	ln.Close()
	srv, err := mb.NewServer(&mb.ServerConfiguration{URL: url, Timeout: 5 * time.Second, MaxClients: 2, Logger: log.New(io.Discard, "", 0)}, meter{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return url
}

// `read` reads a Modbus sensor like any other.
func TestReadModbusSensor(t *testing.T) {
	url := startMeter(t)
	path := filepath.Join(t.TempDir(), "site.toml")
	cfg := "[[sensor]]\nname = \"grid\"\ndriver = \"modbus\"\nurl = \"" + url + "\"\nunit_id = 5\n" +
		"[[sensor.register]]\nfield = \"frequency\"\ntable = \"input\"\naddress = 0x46\ntype = \"float32\"\nunit = \"Hz\"\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runArgs("read", "-config", path, "grid")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "grid.frequency  50 Hz") {
		t.Errorf("read output:\n%s", out)
	}
}

func TestModbusScan(t *testing.T) {
	url := startMeter(t)
	code, out, errs := runArgs("modbus", "scan", "-url", url, "-units", "1-6")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"Modbus scan of " + url + ", 6 unit ids",
		"unit 5: answers; probably eastron-sdm120 (input 0x0046 = 50) or eastron-sdm630 (input 0x0046 = 50)",
		"1 of 6 unit ids answered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestModbusScanUsage(t *testing.T) {
	for _, args := range [][]string{
		{"modbus"},
		{"modbus", "scan", "-units", "9-1", "-url", "tcp://h:502"},
		{"modbus", "scan", "-port", "/dev/ttyUSB0", "-units", "0-3"},
	} {
		if code, _, _ := runArgs(args...); code != exitConfig {
			t.Errorf("%v: exit %d, want %d", args, code, exitConfig)
		}
	}
	code, _, errs := runArgs("modbus", "scan", "-url", "udp://h:502", "-units", "1")
	if code != exitConfig || !strings.Contains(errs, "tcp://host:port") {
		t.Errorf("udp url: exit %d %s", code, errs)
	}
}

// The mini-grid example passes check, and so does its effective config.
func TestCheckMinigridExample(t *testing.T) {
	code, out, errs := runArgs("check", "-config", "../../examples/minigrid.toml")
	if code != exitOK {
		t.Fatalf("check examples/minigrid.toml: exit %d\n%s", code, errs)
	}
	for _, want := range []string{`profile = "eastron-sdm630"`, `profile = "epever-tracer"`, `port = "/dev/ttyUSB0"`} {
		if !strings.Contains(out, want) {
			t.Errorf("effective config lacks %s", want)
		}
	}
	again := filepath.Join(t.TempDir(), "effective.toml")
	if err := os.WriteFile(again, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runArgs("check", "-config", again); code != exitOK {
		t.Errorf("the effective config does not pass check: exit %d\n%s", code, errs)
	}
}
