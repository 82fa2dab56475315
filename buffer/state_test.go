package buffer

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateSurvivesReopen(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, MinMaxBytes, tuning{})
	if _, ok := r.GetState("pulse/total"); ok {
		t.Fatal("fresh ring has state")
	}
	r.SetState("pulse/total", []byte{1, 2, 3})
	r.SetState("other", []byte("x"))
	r.Append(gen(0, 10, 2))
	got, ok := r.GetState("pulse/total")
	if !ok || string(got) != "\x01\x02\x03" {
		t.Fatalf("GetState before commit = %v, %v", got, ok)
	}
	got[0] = 9 // a copy: must not change the stored value
	mustFlush(t, r)
	r.SetState("pulse/total", []byte{4})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = openManual(t, path, MinMaxBytes, tuning{})
	defer r.Close()
	if v, ok := r.GetState("pulse/total"); !ok || string(v) != "\x04" {
		t.Errorf("after reopen pulse/total = %v, %v; want [4] (Close commits)", v, ok)
	}
	if v, _ := r.GetState("other"); string(v) != "x" {
		t.Errorf("after reopen other = %q", v)
	}
	if rs := readAll(t, r, 0); len(rs) != 10 {
		t.Errorf("readings after reopen: %d, want 10", len(rs))
	}
}

// A state change alone causes a commit; setting an unchanged value does not.
func TestStateCommits(t *testing.T) {
	r := openManual(t, dbPath(t), MinMaxBytes, tuning{})
	defer r.Close()
	mustFlush(t, r)
	base := mustStats(t, r).Commits

	r.SetState("k", []byte("1"))
	mustFlush(t, r)
	if c := mustStats(t, r).Commits; c != base+1 {
		t.Fatalf("commits after a state change = %d, want %d", c, base+1)
	}
	r.SetState("k", []byte("1"))
	mustFlush(t, r)
	if c := mustStats(t, r).Commits; c != base+1 {
		t.Errorf("an unchanged value caused a commit (%d, want %d)", c, base+1)
	}
	r.SetState("k", []byte("2"))
	mustFlush(t, r)
	if c := mustStats(t, r).Commits; c != base+2 {
		t.Errorf("commits after a second change = %d, want %d", c, base+2)
	}
}

// A power cut keeps the last committed value: the file as it is on disk
// right after a commit (copied while the ring is still open, with a newer
// value only in memory) opens with the committed value.
func TestStatePowerCut(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, MinMaxBytes, tuning{})
	defer r.Close()
	for i := byte(1); i <= 5; i++ {
		r.SetState("meter/total", []byte{i})
		r.Append(gen(int(i)*4, 4, 2))
		mustFlush(t, r)
	}
	r.SetState("meter/total", []byte{6}) // not committed: lost with the power
	cut := filepath.Join(t.TempDir(), "cut.db")
	copyFile(t, path, cut)

	log, logs := testLogger(t)
	c, err := open(cut, testConfig(MinMaxBytes), log, tuning{manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := mustStats(t, c); st.RecoveredFrom != "" || strings.Contains(logs.String(), "corrupt") {
		t.Fatalf("the cut file needed recovery:\n%s", logs)
	}
	if v, ok := c.GetState("meter/total"); !ok || v[0] != 5 {
		t.Errorf("after the cut meter/total = %v, %v; want [5], the last committed", v, ok)
	}
	if n := len(readAll(t, c, 0)); n != 20 {
		t.Errorf("%d readings after the cut, want 20", n)
	}
}

// A failed commit keeps the state pending; the next one writes it.
func TestStateFailedCommitRetried(t *testing.T) {
	path := dbPath(t)
	fail := true
	r := openManual(t, path, MinMaxBytes, tuning{failCommit: func() error {
		if fail {
			return errors.New("injected I/O error")
		}
		return nil
	}})
	r.SetState("k", []byte("v1"))
	if err := r.Flush(); err == nil {
		t.Fatal("injected failure did not fail the commit")
	}
	fail = false
	mustFlush(t, r)
	// A copy of the file as committed, before Close's own commit.
	cut := filepath.Join(t.TempDir(), "cut.db")
	copyFile(t, path, cut)
	r.Close()
	ro, err := OpenReadOnly(cut, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, ok := ro.GetState("k"); !ok || string(v) != "v1" {
		t.Errorf("state after a failed then a good commit = %q, %v", v, ok)
	}
	ro.SetState("k", []byte("ignored"))
	if v, _ := ro.GetState("k"); string(v) != "v1" {
		t.Errorf("read-only ring took SetState: %q", v)
	}
}

func TestStateLimits(t *testing.T) {
	log, logs := testLogger(t)
	r, err := open(dbPath(t), testConfig(MinMaxBytes), log, tuning{manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SetState("big", make([]byte, maxStateValue+1))
	r.SetState("", []byte("x"))
	r.SetState(strings.Repeat("k", maxStateKey+1), []byte("x"))
	if _, ok := r.GetState("big"); ok {
		t.Error("an oversized value was stored")
	}
	if n := strings.Count(logs.String(), "state value refused"); n != 3 {
		t.Errorf("%d refusals logged, want 3:\n%s", n, logs)
	}
	r.SetState("max", make([]byte, maxStateValue))
	if _, ok := r.GetState("max"); !ok {
		t.Error("a value of the maximum size was refused")
	}
}

// State in the meta bucket shrinks the inline tail, so that an ordinary
// commit still rewrites only the root and meta pages.
func TestStateShrinksTail(t *testing.T) {
	cur := map[string]uint64{"raw": 1}
	if a, b := tailLimit(4096, cur, 0), tailLimit(4096, cur, stateSize("pulse/total", make([]byte, 8))); b >= a {
		t.Errorf("tail limit with state %d, without %d", b, a)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A quiet value (the uplink's socket byte tally, moved by every keepalive
// ping) causes no commit of its own: an idle box must not write its card
// for it. It rides on the next commit something else causes, and on the
// clean shutdown's.
func TestQuietStateRidesOnOtherCommits(t *testing.T) {
	path := dbPath(t)
	r := openManual(t, path, MinMaxBytes, tuning{})
	mustFlush(t, r)
	base := mustStats(t, r).Commits

	r.SetStateQuiet("uplink/wire", []byte("1"))
	mustFlush(t, r)
	if c := mustStats(t, r).Commits; c != base {
		t.Fatalf("a quiet value alone caused a commit (%d, want %d)", c, base)
	}
	if v, ok := r.GetState("uplink/wire"); !ok || string(v) != "1" {
		t.Fatalf("GetState of a quiet value = %q, %v", v, ok)
	}
	r.Append(gen(0, 1, 1))
	r.SetStateQuiet("uplink/wire", []byte("2"))
	mustFlush(t, r)
	if c := mustStats(t, r).Commits; c != base+1 {
		t.Fatalf("commits after a reading = %d, want %d", c, base+1)
	}
	r.SetStateQuiet("uplink/wire", []byte("3"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openManual(t, path, MinMaxBytes, tuning{})
	defer r.Close()
	if v, _ := r.GetState("uplink/wire"); string(v) != "3" {
		t.Errorf("after a clean shutdown the quiet value is %q, want 3 (Close commits it)", v)
	}
}
