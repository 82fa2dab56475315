package buffer

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// TestKilledWhileCommitting SIGKILLs a process that appends and commits
// every 10 ms (and acks, and compacts) at random moments, and reopens the
// file after each kill: it must never need recovery, and must hold an
// unbroken run of seqs whose values say they were appended in order.
func TestKilledWhileCommitting(t *testing.T) {
	if os.Getenv("BUFFER_CRASH_CHILD") != "" {
		t.Skip("child")
	}
	path := dbPath(t)
	rnd := rand.New(rand.NewPCG(7, 7))
	var lastSeen uint64
	for run := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "BUFFER_CRASH_CHILD="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-run the test binary (under qemu without binfmt?): %v", err)
			}
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rnd.IntN(350)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		log, logs := testLogger(t)
		r, err := open(path, testConfig(MinMaxBytes), log, tuning{manual: true})
		if err != nil {
			t.Fatalf("run %d: reopen: %v\n%s", run, err, stderr.String())
		}
		st := mustStats(t, r)
		if st.RecoveredFrom != "" || strings.Contains(logs.String(), "corrupt") {
			t.Fatalf("run %d: the file needed recovery after SIGKILL:\n%s", run, logs)
		}
		if st.LastSeq < lastSeen {
			t.Fatalf("run %d: last seq went back from %d to %d", run, lastSeen, st.LastSeq)
		}
		lastSeen = st.LastSeq
		got := readAll(t, r, 0)
		for i, g := range got {
			if g.Value != float64(g.Seq-1) || i > 0 && g.Seq != got[i-1].Seq+1 {
				t.Fatalf("run %d: reading %d: seq %d value %v", run, i, g.Seq, g.Value)
			}
		}
		if c := r.Cursor("raw"); c > st.LastSeq {
			t.Fatalf("run %d: cursor %d past last %d", run, c, st.LastSeq)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if lastSeen < 100 {
		t.Fatalf("only %d readings committed over all runs: the test proves nothing", lastSeen)
	}
}

// TestCrashChild is the process TestKilledWhileCommitting kills.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("BUFFER_CRASH_CHILD")
	if path == "" {
		t.Skip("run by TestKilledWhileCommitting")
	}
	cfg := Config{MaxBytes: MinMaxBytes, CommitInterval: config.D(10 * time.Millisecond)}
	r, err := open(path, cfg, nil, tuning{compactEvery: time.Nanosecond, compactMinFil: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.SetStreams([]string{"raw"})
	_, last := r.Bounds()
	n := int(last) // values continue: value == seq-1 while nothing is lost
	for i := 0; ; i++ {
		r.Append(gen(n, 7, 5))
		n += 7
		if i%10 == 0 {
			_, l := r.Bounds()
			r.Ack("raw", l)
		}
		time.Sleep(time.Millisecond)
	}
}
