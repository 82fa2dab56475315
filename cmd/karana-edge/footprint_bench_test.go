package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// BenchmarkDaemonFootprint runs the release binary (static, stripped: what
// ships; a cgo build also maps libc and measures ~1.5 MiB more) with 50 sim
// sensors at 1 s and a live uplink, and reports its peak RSS (VmHWM) and CPU
// use as % of one core, and where the resident set lives at the end. KARANA_FOOTPRINT_SECONDS sets the run length (default 60).
func BenchmarkDaemonFootprint(b *testing.B) {
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("KARANA_FOOTPRINT_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	bin := buildReleaseBinary(b)
	broker, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Stop()
	var delivered atomic.Int64
	broker.Subscribe("karana/footprint/data/#", func(string, []byte) { delivered.Add(1) })

	dir := b.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[device]\nid = \"footprint\"\ndata_dir = %q\n[mqtt]\nbroker = \"tcp://%s\"\n", dir, broker.Addr())
	fmt.Fprintf(&cfg, "[[stream]]\nname = \"raw\"\nperiod = \"10s\"\n")
	waves := []string{"sine", "ramp", "counter", "random-walk", "solar"}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&cfg, "[[sensor]]\nname = \"s%02d\"\ndriver = \"sim\"\nwaveform = %q\nresolution = 0.01\ninterval = \"1s\"\n", i, waves[i%len(waves)])
	}
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte(cfg.String()), 0o644)

	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "run", "-config", path)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second) // start-up is not steady state
		cpu0 := cpuTicks(cmd.Process.Pid)
		t0 := time.Now()
		time.Sleep(time.Duration(seconds) * time.Second)
		cpu1 := cpuTicks(cmd.Process.Pid)
		elapsed := time.Since(t0)
		hwm := statusKiB(cmd.Process.Pid, "VmHWM:")
		// Where the resident set lives: the Go heap and stacks are
		// anonymous; the binary's text and bbolt's mmap are file-backed.
		anon, file := statusKiB(cmd.Process.Pid, "RssAnon:"), statusKiB(cmd.Process.Pid, "RssFile:")
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		const ticksPerSecond = 100 // USER_HZ on Linux
		cpuPct := float64(cpu1-cpu0) / ticksPerSecond / elapsed.Seconds() * 100
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
		b.ReportMetric(cpuPct, "CPU-%core")
		b.ReportMetric(float64(anon)/1024, "anon-MiB")
		b.ReportMetric(float64(file)/1024, "file-MiB")
	}
	if delivered.Load() == 0 {
		b.Fatal("no batch reached the broker: the footprint was not of a working daemon")
	}
}

// cpuTicks is utime+stime from /proc/PID/stat.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func statusKiB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// BenchmarkDiskWrites is the SD-wear figure: the real daemon on the
// reference site (40 sim series at 10 s, shared/reference-site.toml's shape,
// one packed+zstd stream at 15 m) with a live uplink, at commit_interval
// 200ms, 1s and 5s (with KARANA_DISK_ALL=1 also the same series sampled
// every second). It reports write_bytes from /proc/PID/io (bytes the
// process sent towards the block device: bbolt's page writes and fdatasync)
// per commit (commits from `buffer stats -json`) and per day, measured
// after the first telemetry sample has added its series. The data dir
// must be on a block-backed file system: tmpfs accounts no write_bytes, so
// KARANA_DISK_DIR overrides the temporary dir. KARANA_DISK_SECONDS sets the
// window (default 60: six commits; buffer's BenchmarkRefSiteWrites counts
// the same shape's pages over thousands of commits).
func BenchmarkDiskWrites(b *testing.B) {
	seconds := envSeconds("KARANA_DISK_SECONDS", 60)
	bin := buildReleaseBinary(b)
	broker, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Stop()
	// A commit happens only when something new was sampled: the reference
	// site's 40 series share 10 s wall-clock slots, so it commits once per
	// 10 s whatever commit_interval is at or below that. The same 40 series
	// at 1 s show what commit_interval does when samples come every second.
	cases := []struct{ site, interval, commit string }{
		{"ref-site", "10s", "200ms"}, {"ref-site", "10s", "1s"}, {"ref-site", "10s", "5s"},
	}
	if os.Getenv("KARANA_DISK_ALL") != "" {
		cases = append(cases, struct{ site, interval, commit string }{"40x1s", "1s", "1s"},
			struct{ site, interval, commit string }{"40x1s", "1s", "5s"})
	}
	for _, c := range cases {
		commit := c.commit
		b.Run(c.site+"/commit="+commit, func(b *testing.B) {
			for range b.N {
				dir := diskDir(b)
				path := filepath.Join(dir, "config.toml")
				os.WriteFile(path, []byte(referenceSite(dir, broker.Addr(), commit, c.interval)), 0o644)
				cmd := exec.Command(bin, "run", "-config", path)
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				// Creating the file and the dictionary is not steady
				// state: the first telemetry sample (within a minute)
				// adds its ~50 series once.
				waitSeries(b, bin, path, 41, 90*time.Second)
				time.Sleep(time.Second)
				w0, c0 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
				t0 := time.Now()
				time.Sleep(time.Duration(seconds) * time.Second)
				w1, c1 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
				elapsed := time.Since(t0)
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
				if c1 <= c0 {
					b.Fatalf("no commit in %s: the daemon did not sample", elapsed)
				}
				perDay := float64(w1-w0) / elapsed.Seconds() * 86400
				b.ReportMetric(float64(w1-w0)/float64(c1-c0), "B/commit")
				b.ReportMetric(float64(c1-c0)/elapsed.Seconds()*86400, "commits/day")
				b.ReportMetric(perDay/1e6, "MB/day")
			}
		})
	}
}

// BenchmarkIdleWrites proves "no commit, and no write, when nothing new was
// sampled": one sensor and the self-telemetry at 1 h (telemetry's default
// 1 m would sample inside the window half the time), then 30 s
// (KARANA_IDLE_SECONDS) in which write_bytes and the commit count must stay
// flat. It fails, rather than reports, when they move.
func BenchmarkIdleWrites(b *testing.B) {
	seconds := envSeconds("KARANA_IDLE_SECONDS", 30)
	bin := buildBinaryB(b)
	broker, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Stop()
	for range b.N {
		dir := diskDir(b)
		path := filepath.Join(dir, "config.toml")
		cfg := fmt.Sprintf("[device]\nid = \"idle\"\ndata_dir = %q\n[mqtt]\nbroker = \"tcp://%s\"\n"+
			"[[stream]]\nname = \"raw\"\nperiod = \"10s\"\n"+
			"[telemetry]\ninterval = \"1h\"\n"+
			"[[sensor]]\nname = \"slow\"\ndriver = \"sim\"\ninterval = \"1h\"\n", dir, broker.Addr())
		os.WriteFile(path, []byte(cfg), 0o644)
		cmd := exec.Command(bin, "run", "-config", path)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		w0, c0 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
		time.Sleep(time.Duration(seconds) * time.Second)
		w1, c1 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.ReportMetric(float64(w1-w0), "idle-write-B")
		b.ReportMetric(float64(c1-c0), "idle-commits")
		if w1 != w0 || c1 != c0 {
			b.Fatalf("idle daemon wrote %d bytes in %d commits over %ds with nothing new sampled", w1-w0, c1-c0, seconds)
		}
	}
}

// referenceSite is shared/reference-site.toml's shape: 40 sim series at
// the given interval feeding one packed, zstd-compressed 15-minute stream.
func referenceSite(dir, broker, commit, interval string) string {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[device]\nid = \"ref-site\"\ndata_dir = %q\n[buffer]\ncommit_interval = %q\n[mqtt]\nbroker = \"tcp://%s\"\n", dir, commit, broker)
	fmt.Fprintf(&cfg, "[[stream]]\nname = \"raw\"\nperiod = \"15m\"\nformat = \"packed\"\ncompress = \"zstd\"\n")
	waves := []string{"solar", "sine", "random-walk", "counter", "ramp"}
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&cfg, "[[sensor]]\nname = \"r%02d\"\ndriver = \"sim\"\nwaveform = %q\nresolution = 0.01\ninterval = %q\n", i, waves[i%len(waves)], interval)
	}
	return cfg.String()
}

func envSeconds(key string, def int) int {
	if s, err := strconv.Atoi(os.Getenv(key)); err == nil && s > 0 {
		return s
	}
	return def
}

func diskDir(b *testing.B) string {
	if d := os.Getenv("KARANA_DISK_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "karana-disk-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// writeBytes is write_bytes from /proc/PID/io.
func writeBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// commits asks the running daemon (control socket) for its commit count.
func commits(b *testing.B, bin, cfg string) int64 {
	return bufferStats(b, bin, cfg).Commits
}

type daemonStats struct {
	Commits int64 `json:"commits"`
	Series  int   `json:"series"`
}

func bufferStats(b *testing.B, bin, cfg string) daemonStats {
	out, err := exec.Command(bin, "buffer", "stats", "-config", cfg, "-json").Output()
	if err != nil {
		b.Fatalf("buffer stats: %v", err)
	}
	var st daemonStats
	if err := json.Unmarshal(out, &st); err != nil {
		b.Fatalf("buffer stats -json: %v\n%s", err, out)
	}
	return st
}

// waitSeries waits until the running daemon's dictionary holds at least n
// series, or for at most max.
func waitSeries(b *testing.B, bin, cfg string, n int, max time.Duration) {
	deadline := time.Now().Add(max)
	time.Sleep(2 * time.Second) // the control socket
	for time.Now().Before(deadline) && bufferStats(b, bin, cfg).Series < n {
		time.Sleep(time.Second)
	}
}

var (
	releaseOnce sync.Once
	releasePath string
	releaseErr  error
)

// buildReleaseBinary builds the daemon as `make dist` does for the host
// (CGO_ENABLED=0, -trimpath, scripts/gcflags, -s -w): about two thirds of the daemon's RSS is
// its own text and rodata mapped from the file, so the figure must be of
// the binary that ships.
func buildReleaseBinary(b *testing.B) string {
	b.Helper()
	releaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "karana-edge-release-")
		if err != nil {
			releaseErr = err
			return
		}
		releasePath = filepath.Join(dir, "karana-edge")
		flagsFile := "../../scripts/gcflags"
		if f := os.Getenv("KARANA_RELEASE_GCFLAGS"); f != "" {
			flagsFile = f // to compare build flags: a file in the same format
		}
		gcflags, err := releaseGCFlags(flagsFile)
		if err != nil {
			releaseErr = err
			return
		}
		args := append([]string{"build", "-trimpath"}, gcflags...)
		cmd := exec.Command("go", append(args, "-ldflags", "-s -w", "-o", releasePath, ".")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			releaseErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if releaseErr != nil {
		b.Fatal(releaseErr)
	}
	return releasePath
}

// releaseGCFlags reads scripts/gcflags, the release builds' compiler flags
// (one -gcflags argument per line, # comments).
func releaseGCFlags(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("release compiler flags: %w", err)
	}
	var flags []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		flags = append(flags, "-gcflags="+line)
	}
	return flags, nil
}
