package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

var pagePNG = flag.Bool("page-png", false, "TestPageInBrowser also writes its screenshot to docs/page.png (the README's)")

const chromiumPath = "/usr/bin/chromium"

// TestPageInBrowser runs the daemon on the sim board with [http] on
// loopback and loads the technician's page in Debian's headless Chromium,
// driven over the DevTools protocol: every sensor's tile carries its name
// and the same value the buffer holds for that series and time (read back
// with `buffer export`), a sensor that is not fitted shows `read`'s hint,
// every plot canvas has drawn pixels, a live update arrives, and the
// browser reports no console error, exception or blocked resource. The
// screenshot is a test artifact (-artifacts), and docs/page.png with
// -page-png.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon and a browser")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs Debian's chromium (%s): apt-get install chromium", chromiumPath)
	}
	bin := buildBinary(t)
	broker, err := testbroker.Start(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Stop()

	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "config.toml")
	// The stream's period is long, so the buffer keeps what the plots read.
	cfg := fmt.Sprintf(`[device]
id = "page-test"
data_dir = %q
board = "sim"
[buffer]
commit_interval = "200ms"
[telemetry]
interval = "2s"
[mqtt]
broker = "tcp://%s"
[http]
listen = %q
[[stream]]
name = "raw"
period = "1h"
[[sensor]]
name = "pv"
driver = "sim"
waveform = "solar"
amplitude = 4200
resolution = 0.1
unit = "W"
interval = "1s"
[[sensor]]
name = "battery"
driver = "sim"
waveform = "sine"
field = "voltage"
offset = 51.2
amplitude = 1.5
period = "30s"
resolution = 0.001
unit = "V"
interval = "1s"
[[sensor]]
name = "load"
driver = "sim"
waveform = "random-walk"
offset = 800
amplitude = 300
resolution = 0.1
unit = "W"
interval = "1s"
[[sensor]]
name = "energy"
driver = "sim"
waveform = "counter"
unit = "Wh"
interval = "1s"
[[sensor]]
name = "env"
driver = "bme280"
bus = "1"
address = 0x76
interval = "2s"
`, dir, broker.Addr(), addr)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	working := []string{"pv", "battery", "load", "energy"}

	daemon := exec.Command(bin, "run", "-config", cfgPath)
	var dlog syncBuf
	daemon.Stdout, daemon.Stderr = &dlog, &dlog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", dlog.String())
		}
	}()
	base := "http://" + addr + "/"
	// Some seconds of readings, so the plots have lines to draw.
	waitFor(t, 20*time.Second, "the page and every working sensor's values", func() bool {
		resp, err := http.Get(base + "api/state")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			Sensors []struct {
				Name   string
				Reads  uint64
				Values []any
			}
		}
		json.NewDecoder(resp.Body).Decode(&st)
		n := 0
		for _, s := range st.Sensors {
			if len(s.Values) > 0 && s.Reads >= 4 {
				n++
			}
		}
		return n == len(working)
	})

	b := startBrowser(t)
	page := b.open(t, 1280, 900)
	page.call(t, "Page.navigate", map[string]any{"url": base}, nil)
	waitFor(t, 30*time.Second, "the page to load its data, draw its plots and get a live update", func() bool {
		var ready string
		page.eval(t, `document.body ? [document.body.getAttribute("data-ready"), document.body.getAttribute("data-plots"), document.body.getAttribute("data-updates")].join("|") : ""`, &ready)
		parts := strings.Split(ready, "|")
		return len(parts) == 3 && parts[0] == "1" && parts[1] != "" && parts[2] != ""
	})

	var dom pageDOM
	page.eval(t, `JSON.stringify({
		tiles: Array.from(document.querySelectorAll("[data-sensor]")).map(t => ({
			sensor: t.getAttribute("data-sensor"), class: t.className, text: t.textContent,
			values: Array.from(t.querySelectorAll("[data-series]")).map(r => ({
				series: r.getAttribute("data-series"),
				value: r.querySelector("[data-value]").getAttribute("data-value"),
				ts: r.querySelector("[data-ts]").getAttribute("data-ts")}))})),
		plots: document.body.getAttribute("data-plots"),
		drawn: Object.fromEntries(Array.from(document.querySelectorAll(".plot")).map(p => [p.getAttribute("data-series"), p.getAttribute("data-drawn")])),
		errors: document.getElementById("errors").textContent,
		live: document.getElementById("live").textContent})`, jsonInto(t, &dom))

	// Every value on the page is the buffer's reading for that series and
	// time, as `buffer export` (the control socket, another path) gives it.
	buffered := bufferedReadings(t, bin, cfgPath, &dom)
	checkTiles(t, &dom, buffered, working)
	var shot struct{ Data string }
	page.call(t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	os.WriteFile(filepath.Join(t.ArtifactDir(), "page.png"), png, 0o644)
	if *pagePNG {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "page.png"), png, 0o644); err != nil {
			t.Error(err)
		}
	}
	for _, e := range b.problems() {
		t.Errorf("browser: %s", e)
	}
}

type pageDOM struct {
	Tiles []struct {
		Sensor string
		Class  string
		Text   string
		Values []struct{ Series, Value, TS string }
	}
	Plots  string
	Drawn  map[string]string
	Errors string
	Live   string
}

// bufferedReadings is the buffer's content by series@ts, as `buffer
// export` gives it, once it holds every reading the page shows.
func bufferedReadings(t *testing.T, bin, cfgPath string, dom *pageDOM) map[string]float64 {
	// The page shows a reading as it is sampled; the buffer has it after the
	// next commit (200 ms).
	buffered := map[string]float64{}
	waitFor(t, 10*time.Second, "the page's readings in the buffer", func() bool {
		out, err := exec.Command(bin, "buffer", "export", "-config", cfgPath, "-format", "jsonl").Output()
		if err != nil {
			t.Fatalf("buffer export: %v", err)
		}
		for line := range strings.Lines(string(out)) {
			var r struct {
				Name  string
				TS    string
				Value float64
			}
			json.Unmarshal([]byte(line), &r)
			buffered[r.Name+"@"+r.TS] = r.Value
		}
		for _, tile := range dom.Tiles {
			for _, v := range tile.Values {
				if _, ok := buffered[seriesAt(v.Series, v.TS)]; !ok {
					return false
				}
			}
		}
		return true
	})
	return buffered
}

// checkTiles checks the page's tiles, plots and errors.
func checkTiles(t *testing.T, dom *pageDOM, buffered map[string]float64, working []string) {
	tiles := map[string]int{}
	for i, tile := range dom.Tiles {
		tiles[tile.Sensor] = i
	}
	for _, name := range append(working, "env") {
		if _, ok := tiles[name]; !ok {
			t.Errorf("no tile for sensor %s", name)
		}
	}
	for _, name := range working {
		tile := dom.Tiles[tiles[name]]
		if !strings.HasPrefix(tile.Text, name) || len(tile.Values) == 0 {
			t.Errorf("tile %s: %q, values %+v", name, tile.Text, tile.Values)
			continue
		}
		for _, v := range tile.Values {
			if _, err := time.Parse(time.RFC3339Nano, v.TS); err != nil {
				t.Errorf("tile %s: series %s time %q: %v", name, v.Series, v.TS, err)
				continue
			}
			want, ok := buffered[seriesAt(v.Series, v.TS)]
			got, perr := strconv.ParseFloat(v.Value, 64)
			if !ok || perr != nil || got != want {
				t.Errorf("tile %s: %s = %q at %s; the buffer has %v (found %v)", name, v.Series, v.Value, v.TS, want, ok)
			}
			if !strings.HasPrefix(v.Series, name+".") {
				t.Errorf("tile %s shows series %s", name, v.Series)
			}
		}
		if _, ok := dom.Drawn[tile.Values[0].Series]; !ok {
			t.Errorf("no plot for %s", tile.Values[0].Series)
		}
	}
	if env := dom.Tiles[tiles["env"]]; !strings.Contains(env.Class, "nf") || !strings.Contains(env.Text, "not fitted") || !strings.Contains(env.Text, "check: ") {
		t.Errorf("the unfitted bme280's tile does not say so with read's hint: class %q, %q", env.Class, env.Text)
	}
	for series, px := range dom.Drawn {
		if n, _ := strconv.Atoi(px); n == 0 {
			t.Errorf("the plot of %s is blank", series)
		}
	}
	if n, d, _ := strings.Cut(dom.Plots, ":"); n != d || n == "0" {
		t.Errorf("plots drawn: %s (charts:drawn)", dom.Plots)
	}
	if dom.Errors != "" || dom.Live != "live" {
		t.Errorf("page errors %q; live state %q", dom.Errors, dom.Live)
	}

}

// seriesAt keys a reading by series and time as the export writes it.
func seriesAt(series, ts string) string {
	t, _ := time.Parse(time.RFC3339Nano, ts)
	return series + "@" + t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, max)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// browser is headless Chromium driven over the DevTools protocol: one
// websocket to the browser, pages attached as flat sessions.
type browser struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMsg
	errs    []string
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func startBrowser(t *testing.T) *browser {
	cmd := exec.Command(chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its own process group: the browser's renderers and helpers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok {
				found <- u
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not say where DevTools listens")
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &browser{conn: conn, waiting: map[int]chan cdpMsg{}}
	go b.read()
	return b
}

func (b *browser) read() {
	for {
		var m cdpMsg
		if err := b.conn.ReadJSON(&m); err != nil {
			return
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		b.event(m)
	}
}

// event keeps what the page reported as going wrong.
func (b *browser) event(m cdpMsg) {
	var p struct {
		Type  string
		Args  []struct{ Value any }
		Entry struct {
			Level, Text, URL string
		}
		ExceptionDetails struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	json.Unmarshal(m.Params, &p)
	var problem string
	switch m.Method {
	case "Runtime.exceptionThrown":
		problem = "exception: " + p.ExceptionDetails.Text + " " + p.ExceptionDetails.Exception.Description
	case "Runtime.consoleAPICalled":
		if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
			problem = fmt.Sprintf("console.%s %v", p.Type, p.Args)
		}
	case "Log.entryAdded":
		if p.Entry.Level == "error" || p.Entry.Level == "warning" {
			problem = fmt.Sprintf("%s: %s %s", p.Entry.Level, p.Entry.Text, p.Entry.URL)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.errs = append(b.errs, problem)
		b.mu.Unlock()
	}
}

func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func (b *browser) send(t *testing.T, session, method string, params any, result any) {
	t.Helper()
	raw, _ := json.Marshal(params)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMsg, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	b.wmu.Lock()
	err := b.conn.WriteJSON(cdpMsg{ID: id, SessionID: session, Method: method, Params: raw})
	b.wmu.Unlock()
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer from the browser", method)
	}
}

type cdpPage struct {
	b       *browser
	session string
}

// open makes a new tab of the given viewport with console and log events on.
func (b *browser) open(t *testing.T, width, height int) *cdpPage {
	var tgt struct{ TargetID string }
	b.send(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &tgt)
	var att struct{ SessionID string }
	b.send(t, "", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}, &att)
	p := &cdpPage{b: b, session: att.SessionID}
	p.call(t, "Runtime.enable", nil, nil)
	p.call(t, "Log.enable", nil, nil)
	p.call(t, "Page.enable", nil, nil)
	p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	return p
}

func (p *cdpPage) call(t *testing.T, method string, params, result any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	p.b.send(t, p.session, method, params, result)
}

// eval evaluates a JavaScript expression in the page into out (a string,
// or via jsonInto a struct).
func (p *cdpPage) eval(t *testing.T, expr string, out any) {
	t.Helper()
	var r struct {
		Result struct {
			Value any
		}
		ExceptionDetails *struct{ Text string }
	}
	p.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("evaluating %.60q: %s", expr, r.ExceptionDetails.Text)
	}
	switch o := out.(type) {
	case *string:
		*o, _ = r.Result.Value.(string)
	case jsonTarget:
		s, _ := r.Result.Value.(string)
		if err := json.Unmarshal([]byte(s), o.v); err != nil {
			t.Fatalf("page JSON: %v\n%s", err, s)
		}
	}
}

type jsonTarget struct{ v any }

func jsonInto(_ *testing.T, v any) jsonTarget { return jsonTarget{v} }
