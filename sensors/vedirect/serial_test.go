package vedirect

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ptyPair starts socat with two linked pseudo-terminals, as a VE.Direct
// cable would present one end: dev is the device side, port the one the
// driver opens (real termios: 19200 8N1 through go.bug.st/serial).
func ptyPair(t *testing.T, dir string) (cmd *exec.Cmd, dev, port string) {
	t.Helper()
	dev, port = filepath.Join(dir, "device"), filepath.Join(dir, "ttyVE")
	cmd = exec.Command("socat", "pty,raw,echo=0,link="+dev, "pty,raw,echo=0,link="+port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, e1 := os.Stat(dev)
		_, e2 := os.Stat(port)
		if e1 == nil && e2 == nil {
			return cmd, dev, port
		}
		if time.Now().After(deadline) {
			t.Fatal("socat made no pty pair")
		}
	}
}

// feed writes blk to the device side every 100 ms until stop closes, as a
// device sends one block a second.
func feed(t *testing.T, dev string, blk []byte, stop <-chan struct{}) {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := f.Write(blk); err != nil {
			return // socat went away
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// The real serial path, including the port vanishing (socat killed, as a
// USB adapter unplugged) and coming back under the same name.
func TestSerialThroughPty(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed (apt-get install socat): the pty test needs it")
	}
	dir := t.TempDir()
	cmd, dev, port := ptyPair(t, dir)
	s, err := New("mppt", &Options{Port: port, Labels: []string{"V", "PPV", BadBlocks}})
	if err != nil {
		t.Fatal(err)
	}
	s.retry = 20 * time.Millisecond
	s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	defer s.Close()

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); feed(t, dev, append(textBlock(mpptFields...), hexFrames...), stop) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vals, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := valueMap(vals); got["V"] != "12.81 V" || got["PPV"] != "47 W" {
		t.Fatalf("through the pty: %v", got)
	}
	close(stop)
	<-done

	// Unplugged: the pty disappears under the reader.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	waitFor(t, "the reader to see the port fail", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.portErr != nil })

	// Plugged back in: a new pair under the same names.
	_ = os.Remove(dev)
	_ = os.Remove(port)
	_, dev, _ = ptyPair(t, dir)
	stop = make(chan struct{})
	done = make(chan struct{})
	go func() { defer close(done); feed(t, dev, textBlock("V", "13650", "PPV", "210"), stop) }()
	defer func() { close(stop); <-done }()
	waitFor(t, "the reader to reopen the port", func() bool { return s.hasLabel("V", "13650") })
	vals, err = s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := valueMap(vals); got["V"] != "13.65 V" || got["PPV"] != "210 W" {
		t.Errorf("after the port came back: %v", got)
	}
}
