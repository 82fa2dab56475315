package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// BenchmarkPageFootprint is what the technician's page costs at the
// reference site (40 sim series at 10 s, release binary), in three runs of
// KARANA_PAGE_SECONDS (default 60) after the first telemetry sample:
//
//	off    no [http]
//	idle   [http] on loopback, no client
//	live   one client: the page's assets, /api/state, a 24 h plot, then
//	       the event stream for the whole window
//
// It reports CPU as % of one core, VmRSS at the end of the window, the
// daemon's goroutines (go_goroutines from /metrics), write_bytes during
// the window (on a block device: KARANA_DISK_DIR, as BenchmarkDiskWrites),
// and the page's weight (every asset the page loads, uncompressed).
func BenchmarkPageFootprint(b *testing.B) {
	seconds := envSeconds("KARANA_PAGE_SECONDS", 60)
	bin := buildReleaseBinary(b)
	broker, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Stop()
	for _, mode := range []string{"off", "idle", "live"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				dir := diskDir(b)
				path := filepath.Join(dir, "config.toml")
				cfg := referenceSite(dir, broker.Addr(), "1s", "10s")
				addr := freeAddrB(b)
				if mode != "off" {
					cfg = strings.Replace(cfg, "[mqtt]", fmt.Sprintf("[http]\nlisten = %q\n[mqtt]", addr), 1)
				}
				os.WriteFile(path, []byte(cfg), 0o644)
				cmd := exec.Command(bin, "run", "-config", path)
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				waitSeries(b, bin, path, 41, 90*time.Second)
				base := "http://" + addr + "/"
				var events atomic.Int64
				stop := make(chan struct{})
				if mode == "live" {
					weight := loadPage(b, base)
					b.ReportMetric(float64(weight)/1024, "page-KiB")
					go watchEvents(base, &events, stop)
				}
				time.Sleep(time.Second)
				pid := cmd.Process.Pid
				cpu0, w0, t0 := cpuTicks(pid), writeBytes(pid), time.Now()
				time.Sleep(time.Duration(seconds) * time.Second)
				cpu1, w1, elapsed := cpuTicks(pid), writeBytes(pid), time.Since(t0)
				rss := statusKiB(pid, "VmRSS:")
				close(stop)
				goroutines := -1.0
				if mode != "off" {
					goroutines = scrapeGauge(b, base+"metrics", "go_goroutines")
				}
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
				const ticksPerSecond = 100 // USER_HZ
				b.ReportMetric(float64(cpu1-cpu0)/ticksPerSecond/elapsed.Seconds()*100, "CPU-%core")
				b.ReportMetric(float64(rss)/1024, "RSS-MiB")
				b.ReportMetric(float64(w1-w0)/elapsed.Seconds()*86400/1e6, "write-MB/day")
				if goroutines >= 0 {
					b.ReportMetric(goroutines, "goroutines")
				}
				if mode == "live" {
					if events.Load() == 0 {
						b.Fatal("the live client got no update: not a live page")
					}
					b.ReportMetric(float64(events.Load()), "updates")
				}
			}
		})
	}
}

// BenchmarkPageIdleWrites: a box with nothing new to sample writes nothing
// (BenchmarkIdleWrites), and that stays so while a client loads the page,
// its plots and an export and watches the event stream: the page writes
// nothing to the card. It fails when write_bytes or the commits move.
func BenchmarkPageIdleWrites(b *testing.B) {
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
		addr := freeAddrB(b)
		cfg := fmt.Sprintf("[device]\nid = \"idle\"\ndata_dir = %q\n[mqtt]\nbroker = \"tcp://%s\"\n[http]\nlisten = %q\nmetrics_readings = true\n"+
			"[[stream]]\nname = \"raw\"\nperiod = \"10s\"\n[telemetry]\ninterval = \"1h\"\n"+
			"[[sensor]]\nname = \"slow\"\ndriver = \"sim\"\ninterval = \"1h\"\n", dir, broker.Addr(), addr)
		os.WriteFile(path, []byte(cfg), 0o644)
		cmd := exec.Command(bin, "run", "-config", path)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		base := "http://" + addr + "/"
		w0, c0 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
		loadPage(b, base)
		for _, p := range []string{"api/series?range=7d", "export?format=csv&since=87600h", "metrics", "api/log"} {
			get(b, base+p)
		}
		var events atomic.Int64
		stop := make(chan struct{})
		go watchEvents(base, &events, stop)
		time.Sleep(time.Duration(seconds) * time.Second)
		close(stop)
		w1, c1 := writeBytes(cmd.Process.Pid), commits(b, bin, path)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.ReportMetric(float64(w1-w0), "write-B")
		if w1 != w0 || c1 != c0 {
			b.Fatalf("with the page open the idle daemon wrote %d bytes in %d commits over %ds", w1-w0, c1-c0, seconds)
		}
	}
}

func freeAddrB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// loadPage fetches what a browser opening the page fetches, and returns
// the bytes of the page itself (its data excluded).
func loadPage(b *testing.B, base string) int {
	weight := 0
	for _, p := range []string{"", "page.css", "app.js", "uplot.js", "uplot.css"} {
		weight += len(get(b, base+p))
	}
	get(b, base+"api/state")
	get(b, base+"api/series?range=24h")
	get(b, base+"api/log")
	return weight
}

// watchEvents reads the event stream until stop, counting updates.
func watchEvents(base string, n *atomic.Int64, stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: state") {
			n.Add(1)
		}
	}
}

func scrapeGauge(b *testing.B, url, name string) float64 {
	for line := range strings.Lines(string(get(b, url))) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return -1
}
