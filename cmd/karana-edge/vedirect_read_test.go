package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// veBlock is a VE.Direct text block as the protocol document defines it:
// fields "\r\n<label>\t<value>", then "\r\nChecksum\t" and the byte that
// brings the sum of the block's bytes to 0 modulo 256.
func veBlock(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, "\r\n"+kv[i]+"\t"+kv[i+1]...)
	}
	b = append(b, "\r\nChecksum\t"...)
	var sum byte
	for _, c := range b {
		sum += c
	}
	return append(b, -sum)
}

// `karana-edge read` of a VE.Direct charger on a pty shows its values in SI
// units and the device's product id and serial number.
func TestReadVEDirectThroughPty(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed (apt-get install socat): the pty test needs it")
	}
	withHWRoot(t, t.TempDir())
	dir := t.TempDir()
	dev, port := filepath.Join(dir, "device"), filepath.Join(dir, "ttyVE")
	cmd := exec.Command("socat", "pty,raw,echo=0,link="+dev, "pty,raw,echo=0,link="+port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var f *os.File
	for deadline := time.Now().Add(5 * time.Second); f == nil; time.Sleep(10 * time.Millisecond) {
		f, _ = os.OpenFile(dev, os.O_WRONLY, 0)
		if f == nil && time.Now().After(deadline) {
			t.Fatal("socat made no pty pair")
		}
	}
	defer f.Close()
	stop := make(chan struct{})
	defer close(stop)
	blk := veBlock("PID", "0xA053", "FW", "150", "SER#", "HQ1328A1B2C", "V", "12810", "I", "-10",
		"VPV", "18330", "PPV", "47", "CS", "3", "ERR", "0", "H20", "12")
	go func() {
		for {
			if _, err := f.Write(blk); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	path := writeConfig(t, `
[[sensor]]
name = "mppt"
driver = "vedirect"
port = "`+port+`"
interval = "10s"
`)
	code, out, errs := runArgs("read", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, out, errs)
	}
	wantAll(t, "read", out, "mppt (vedirect, "+port+"): read in ",
		"mppt.V ", " 12.81 V\n", "mppt.PPV ", " 47 W\n", "mppt.H20 ", " 0.12 kWh\n", "mppt.CS ", "mppt.bad_blocks ",
		"  device: PID 0xA053, SER# HQ1328A1B2C, FW 150\n")
}

// A VE.Direct port that does not exist: read fails quickly enough, says
// which port, and hints at the adapter rather than at a bus address.
func TestReadVEDirectNoPort(t *testing.T) {
	withHWRoot(t, t.TempDir())
	port := filepath.Join(t.TempDir(), "ttyUSB9")
	path := writeConfig(t, `
[[sensor]]
name = "mppt"
driver = "vedirect"
port = "`+port+`"
interval = "10s"
`)
	code, _, errs := runArgs("read", "-config", path)
	if code != exitFailure {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantAll(t, "read", errs, "vedirect on "+port+": no good text block since reading started 0s ago",
		"no such file or directory", "check: is the adapter on "+port+" plugged in")
}
