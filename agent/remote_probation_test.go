package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A SIGHUP while a remote document is on probation re-reads the local file
// and keeps the document on probation over it; the rollback then restores
// the new file, not the one from before the SIGHUP.
func TestReloadDuringProbation(t *testing.T) {
	r := newRemoteRig(t, `allow = ["sensor", "stream", "mqtt", "mqtt.broker"]
confirm_timeout = "2s"`)
	// A sensor that never reads keeps the document on probation with the
	// link up, so its "applied" reply goes out.
	res := r.set("version = 3\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\nfail_every = 1\ninterval = \"250ms\"\n")
	if res.Status != StatusApplied {
		t.Fatalf("broker change: %+v", res)
	}
	pending := filepath.Join(r.dir, RemotePendingFile)
	if _, err := os.Stat(pending); err != nil {
		t.Fatalf("no pending overlay after the set: %v", err)
	}

	file := strings.Replace(localFile(r.dir, r.b.URL(), `allow = ["sensor", "stream", "mqtt", "mqtt.broker"]
confirm_timeout = "2s"`), `period = "100ms"`, `period = "150ms"`, 1)
	must(t, os.WriteFile(r.file, []byte(file), 0o600))
	if err := r.a.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	cfg := r.a.Config()
	if len(cfg.Sensors) != 1 || cfg.Sensors[0].Interval.Duration != 250*time.Millisecond {
		t.Errorf("after SIGHUP the document on probation was dropped: sensors %+v", cfg.Sensors)
	}
	if got := cfg.Streams[0].Period.Duration; got != 150*time.Millisecond {
		t.Errorf("after SIGHUP the stream period is %s, want the reloaded file's 150ms", got)
	}
	if _, err := os.Stat(pending); err != nil {
		t.Errorf("SIGHUP removed the overlay on probation: %v", err)
	}

	r.waitFor("rolled_back", func() bool {
		for _, res := range r.allResults() {
			if res.Status == StatusRolledBack && res.Version == 3 {
				return true
			}
		}
		return false
	})
	cfg = r.a.Config()
	if len(cfg.Sensors) != 1 || cfg.Sensors[0].Interval.Duration != 200*time.Millisecond {
		t.Errorf("sensors after rollback %+v, want the local file's", cfg.Sensors)
	}
	if got := cfg.Streams[0].Period.Duration; got != 150*time.Millisecond {
		t.Errorf("the rollback restored the file from before the SIGHUP: stream period %s, want 150ms", got)
	}
	if _, err := os.Stat(pending); err == nil {
		t.Error("the rolled-back overlay is still pending")
	}
}
