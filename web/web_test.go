package web

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/reading"
)

// openRing is a real buffer in a temporary directory.
func openRing(t *testing.T) *buffer.Ring {
	t.Helper()
	cfg := buffer.DefaultConfig()
	r, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestValidate(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "http.passwd")
	os.WriteFile(pw, append(hash, '\n'), 0o600)
	notHash := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notHash, []byte("hunter2\n"), 0o600)
	for _, tc := range []struct {
		c    Config
		want string // "" valid, else a part of the error
	}{
		{Config{}, ""},
		{Config{Listen: "127.0.0.1:8080"}, ""},
		{Config{Listen: "localhost:8080"}, ""},
		{Config{Listen: "[::1]:8080"}, ""},
		{Config{Listen: "127.0.0.2:0"}, ""},
		{Config{Listen: ":8080"}, "reachable from other machines: set password_file"},
		{Config{Listen: "0.0.0.0:8080"}, "reachable from other machines"},
		{Config{Listen: "192.168.1.20:80"}, "reachable from other machines"},
		{Config{Listen: "box.local:80"}, "reachable from other machines"},
		{Config{Listen: "0.0.0.0:8080", PasswordFile: pw}, ""},
		{Config{Listen: "0.0.0.0:8080", PasswordFile: notHash}, "not a bcrypt hash"},
		{Config{Listen: "0.0.0.0:8080", PasswordFile: pw + ".missing"}, "no such file"},
		{Config{Listen: "8080"}, "not host:port"},
		{Config{Listen: "127.0.0.1:http"}, "want a number"},
		{Config{Listen: "127.0.0.1:70000"}, "want a number"},
	} {
		err := tc.c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want an error with %q", tc.c, err, tc.want)
		}
	}
}

// TestStartRefusesOpenNetwork: even past Validate, Start never serves a
// non-loopback address without a login.
func TestStartRefusesOpenNetwork(t *testing.T) {
	_, err := Start(Options{Config: Config{Listen: "0.0.0.0:0"}, Latest: NewLatest(discard{})})
	if err == nil || !strings.Contains(err.Error(), "no password_file") {
		t.Fatalf("Start on 0.0.0.0 without a password: %v", err)
	}
}

type discard struct{}

func (discard) Append([]reading.Reading) {}

func TestLoginRequired(t *testing.T) {
	const pass = "correct horse battery"
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "http.passwd")
	os.WriteFile(pw, hash, 0o600)
	ring := openRing(t)
	s, err := Start(Options{Config: Config{Listen: "127.0.0.1:0", PasswordFile: pw}, DeviceID: "box", Ring: ring, Latest: NewLatest(ring)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(time.Second)
	base := "http://" + s.Addr()
	get := func(path, user, pw string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/", "/api/state", "/metrics", "/export", "/uplot.js"} {
		if r := get(path, "", ""); r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s without login: %d %q", path, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
		if r := get(path, User, "wrong password"); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d", path, r.StatusCode)
		}
		if r := get(path, "admin", pass); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s as another user: %d", path, r.StatusCode)
		}
		if r := get(path, User, pass); r.StatusCode != http.StatusOK {
			t.Errorf("%s with the login: %d", path, r.StatusCode)
		}
	}
}

// TestReadOnly: no route takes anything but GET and HEAD.
func TestReadOnly(t *testing.T) {
	ring := openRing(t)
	s := &Server{opts: Options{DeviceID: "box", Ring: ring, Latest: NewLatest(ring), Now: time.Now, Log: discardLog()}, clients: make(chan struct{}, 1)}
	h := s.Handler()
	for _, path := range []string{"/", "/app.js", "/api/state", "/api/series", "/api/events", "/api/log", "/export", "/metrics", "/nothing"} {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(m, path, strings.NewReader("x=1")))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", m, path, w.Code, w.Header().Get("Allow"))
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("HEAD", path, nil))
		if path != "/nothing" && w.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, w.Code)
		}
	}
}

// TestMetrics parses /metrics with Prometheus's own text parser.
func TestMetrics(t *testing.T) {
	ring := openRing(t)
	latest := NewLatest(ring)
	ts := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	latest.Append([]reading.Reading{
		{Name: "battery.voltage", Time: ts, Value: 51.25, Unit: "V"},
		{Name: "battery.current", Time: ts, Value: -3.5, Unit: "A"},
		{Name: "pv.string1.power", Time: ts, Value: 1234.5, Unit: "W"},
		{Name: "karana.buffer.depth", Time: ts, Value: 7},
		{Name: "gone.value", Time: ts, Value: 1},
	})
	opts := Options{
		DeviceID: `site-042`, Ring: ring, Latest: latest, Log: discardLog(), Now: time.Now,
		Sensors: func() []SensorInfo { return []SensorInfo{{Name: "battery"}, {Name: "pv"}, {Name: "pv.string1"}} },
		Health: func() []Health {
			return []Health{
				{Field: "buffer.depth", Value: 1234},
				{Field: "buffer.dropped_total", Value: 5},
				{Field: "uplink.connected", Value: 1},
				{Field: "sensor.battery.errors", Value: 2},
				{Field: "sensor.pv.string1.errors", Value: 3},
				{Field: "process.rss_bytes", Value: 9e6, Unit: "B"},
			}
		},
	}
	scrape := func(readings bool) map[string]*dtoFamily {
		opts.Config.MetricsReadings = readings
		s := &Server{opts: opts}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("/metrics: %d %q", w.Code, w.Header().Get("Content-Type"))
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatalf("expfmt cannot parse /metrics: %v\n%s", err, w.Body.String())
		}
		out := map[string]*dtoFamily{}
		for name, f := range fams {
			df := &dtoFamily{}
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				v := math.NaN()
				switch {
				case m.GetGauge() != nil:
					v = m.GetGauge().GetValue()
				case m.GetUntyped() != nil:
					v = m.GetUntyped().GetValue()
				case m.GetCounter() != nil:
					v = m.GetCounter().GetValue()
				}
				df.m = append(df.m, sample{labels, v})
			}
			out[name] = df
		}
		return out
	}
	fams := scrape(false)
	dev := map[string]string{"device": "site-042"}
	want := []struct {
		name   string
		labels map[string]string
		v      float64
	}{
		{"karana_buffer_depth", dev, 1234},
		{"karana_buffer_dropped_total", dev, 5},
		{"karana_uplink_connected", dev, 1},
		{"karana_process_rss_bytes", dev, 9e6},
		{"karana_sensor_errors", map[string]string{"device": "site-042", "sensor": "battery"}, 2},
		{"karana_sensor_errors", map[string]string{"device": "site-042", "sensor": "pv.string1"}, 3},
	}
	for _, w := range want {
		if v, ok := fams[w.name].get(w.labels); !ok || v != w.v {
			t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, v, ok, w.v)
		}
	}
	if _, ok := fams["karana_reading"]; ok {
		t.Error("readings exposed with metrics_readings = false")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics (go_goroutines)")
	}

	fams = scrape(true)
	for _, w := range []struct {
		sensor, field string
		v             float64
	}{
		{"battery", "voltage", 51.25}, {"battery", "current", -3.5}, {"pv.string1", "power", 1234.5},
	} {
		l := map[string]string{"device": "site-042", "sensor": w.sensor, "field": w.field}
		if v, ok := fams["karana_reading"].get(l); !ok || v != w.v {
			t.Errorf("karana_reading%v = %v (found %v), want %v", l, v, ok, w.v)
		}
	}
	if n := len(fams["karana_reading"].m); n != 3 {
		t.Errorf("karana_reading has %d series, want 3 (telemetry and unconfigured sensors left out): %+v", n, fams["karana_reading"].m)
	}
}

type sample struct {
	labels map[string]string
	v      float64
}

type dtoFamily struct{ m []sample }

func (f *dtoFamily) get(labels map[string]string) (float64, bool) {
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.m {
		if len(s.labels) != len(labels) {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.v, true
	}
	return 0, false
}

func TestLabelValueEscapes(t *testing.T) {
	s := metricsText(t, `a"b\c`+"\nd")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(s))
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	got := fams["karana_buffer_depth"].GetMetric()[0].GetLabel()[0].GetValue()
	if got != `a"b\c`+"\nd" {
		t.Errorf("device label came back as %q", got)
	}
}

func metricsText(t *testing.T, device string) string {
	var b bytes.Buffer
	writeMetrics(&b, device, []Health{{Field: "buffer.depth", Value: 1}}, nil, nil)
	return b.String()
}

// TestReduceKeepsSpikes: a day of 10 s readings comes down to at most
// 2*Buckets points per series, and a one-reading spike and dip survive.
func TestReduceKeepsSpikes(t *testing.T) {
	ring := openRing(t)
	to := time.Now().Truncate(time.Second)
	from := to.Add(-24 * time.Hour)
	var rs []reading.Reading
	spikeAt := from.Add(13*time.Hour + 20*time.Second)
	dipAt := from.Add(5*time.Hour + 40*time.Second)
	// Readings from two days, so the range must be found inside the buffer.
	for ts := to.Add(-48 * time.Hour); ts.Before(to); ts = ts.Add(10 * time.Second) {
		v := 50.0
		switch {
		case ts.Equal(spikeAt):
			v = 900
		case ts.Equal(dipAt):
			v = -40
		case ts.Before(from):
			v = 1e6 // outside the range: must not show
		}
		rs = append(rs, reading.Reading{Name: "a.v", Time: ts, Value: v, Unit: "V"}, reading.Reading{Name: "b.v", Time: ts, Value: float64(ts.Unix() % 1000)})
		if len(rs) >= 4096 {
			ring.Append(rs)
			rs = rs[:0]
		}
	}
	ring.Append(rs)
	if err := ring.Flush(); err != nil {
		t.Fatal(err)
	}
	series, oldest, err := Reduce(ring, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := to.Add(-48 * time.Hour); !oldest.Equal(want) {
		t.Errorf("oldest %v, want %v", oldest, want)
	}
	if len(series) != 2 || series[0].Name != "a.v" || series[0].Unit != "V" {
		t.Fatalf("series %+v", series)
	}
	a := series[0]
	if len(a.T) > 2*Buckets || len(a.T) != len(a.V) || len(series[1].T) > 2*Buckets {
		t.Fatalf("a.v has %d points (%d values), b.v %d: want at most %d", len(a.T), len(a.V), len(series[1].T), 2*Buckets)
	}
	var hi, lo float64 = math.Inf(-1), math.Inf(1)
	var hiT float64
	for i, v := range a.V {
		if v > hi {
			hi, hiT = v, a.T[i]
		}
		lo = min(lo, v)
		if i > 0 && a.T[i] < a.T[i-1] {
			t.Fatalf("points out of time order at %d", i)
		}
		if a.T[i] < unixSeconds(from) {
			t.Fatalf("a point at %v, before the range", a.T[i])
		}
	}
	if hi != 900 || hiT != unixSeconds(spikeAt) || lo != -40 {
		t.Errorf("max %v at %v, min %v: want the spike 900 at %v and the dip -40", hi, hiT, lo, unixSeconds(spikeAt))
	}
}

// TestSeqAt finds the first reading at or after a time, across holes.
func TestSeqAt(t *testing.T) {
	ring := openRing(t)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var rs []reading.Reading
	for i := 0; i < 1000; i++ {
		rs = append(rs, reading.Reading{Name: "x.v", Time: t0.Add(time.Duration(i) * time.Minute), Value: float64(i)})
	}
	ring.Append(rs)
	ring.Flush()
	first, last := ring.Bounds()
	for _, tc := range []struct {
		at     time.Time
		want   uint64
		wantOK bool
	}{
		{t0.Add(-time.Hour), first, true},
		{t0, first, true},
		{t0.Add(30 * time.Second), first + 1, true},
		{t0.Add(500 * time.Minute), first + 500, true},
		{t0.Add(999 * time.Minute), last, true},
		{t0.Add(1000 * time.Minute), 0, false},
	} {
		got, ok, err := seqAt(ring, tc.at)
		if err != nil || ok != tc.wantOK || ok && got != tc.want {
			t.Errorf("seqAt(%v) = %d, %v, %v; want %d, %v", tc.at, got, ok, err, tc.want, tc.wantOK)
		}
	}
}

// TestExport: the download is `buffer export`'s output (Ring.Export) for
// the range asked.
func TestExport(t *testing.T) {
	ring := openRing(t)
	now := time.Now().Truncate(time.Second)
	var rs []reading.Reading
	for i := 0; i < 100; i++ {
		rs = append(rs, reading.Reading{Name: "x.v", Time: now.Add(time.Duration(i-99) * time.Minute), Value: float64(i), Unit: "W"})
	}
	ring.Append(rs)
	ring.Flush()
	first, _ := ring.Bounds()
	s := &Server{opts: Options{DeviceID: "box", Ring: ring, Latest: NewLatest(ring), Now: func() time.Time { return now }, Log: discardLog()}}
	get := func(q string) (int, string, http.Header) {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/export?"+q, nil))
		return w.Code, w.Body.String(), w.Header()
	}
	code, body, h := get("format=csv")
	var all bytes.Buffer
	ring.Export(&all, "csv", 0, 0)
	if code != 200 || body != all.String() || !strings.Contains(h.Get("Content-Disposition"), `attachment; filename="box-`) {
		t.Errorf("csv: %d %q\n%s", code, h.Get("Content-Disposition"), body[:min(len(body), 200)])
	}
	// The last 10 minutes: readings 90..99 (89 is 10 min before: included).
	code, body, _ = get("format=jsonl&since=10m")
	var want bytes.Buffer
	ring.Export(&want, "jsonl", first+89, 0)
	if code != 200 || body != want.String() {
		t.Errorf("since=10m: %d\n%s\nwant\n%s", code, body, want.String())
	}
	if n := strings.Count(body, "\n"); n != 11 {
		t.Errorf("since=10m gave %d readings, want 11", n)
	}
	code, body, _ = get("format=csv&from=" + itoa(first+5) + "&to=" + itoa(first+7))
	if code != 200 || strings.Count(body, "\n") != 4 {
		t.Errorf("from..to: %d\n%s", code, body)
	}
	for _, q := range []string{"format=xml", "from=x", "from=9&to=3", "since=yesterday"} {
		if code, body, _ := get(q); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestLiveUpdate: a reading appended reaches an open event stream.
func TestLiveUpdate(t *testing.T) {
	ring := openRing(t)
	latest := NewLatest(ring)
	s, err := Start(Options{Config: Config{Listen: "127.0.0.1:0"}, DeviceID: "box", Ring: ring, Latest: latest,
		Sensors: func() []SensorInfo { return []SensorInfo{{Name: "a"}} }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.Addr()+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	latest.Append([]reading.Reading{{Name: "a.v", Time: time.Now(), Value: 42.5, Unit: "V"}})
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var st state
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Points) != 1 || st.Points[0].Value != 42.5 || len(st.Sensors) != 1 || len(st.Sensors[0].Values) != 1 {
			t.Fatalf("update %s", data)
		}
		return
	}
	t.Fatalf("no update: %v", sc.Err())
}

func TestLogLines(t *testing.T) {
	l := NewLogLines(3)
	for _, s := range []string{"a\n", "b\n", "c\nd\n", strings.Repeat("x", 5000) + "\n"} {
		l.Write([]byte(s))
	}
	got := l.Lines()
	if len(got) != 3 || got[0] != "c" || got[1] != "d" || len(got[2]) > maxLine+4 {
		t.Errorf("lines %q", got)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestAssets: uPlot goes out gzip-compressed to a browser that accepts it
// and inflated to one that does not, the same bytes either way; and the
// whole page (what a browser loads before its data) weighs under 200 KB.
func TestAssets(t *testing.T) {
	s := &Server{opts: Options{Log: discardLog(), Now: time.Now}}
	h := s.Handler()
	get := func(path, ae string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", path, nil)
		if ae != "" {
			r.Header.Set("Accept-Encoding", ae)
		}
		h.ServeHTTP(w, r)
		return w
	}
	gz := get("/uplot.js", "gzip, deflate, br")
	plain := get("/uplot.js", "")
	if gz.Header().Get("Content-Encoding") != "gzip" || plain.Header().Get("Content-Encoding") != "" {
		t.Fatalf("encodings %q / %q", gz.Header().Get("Content-Encoding"), plain.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	inflated, _ := io.ReadAll(zr)
	// The sha256 of dist/uPlot.iife.min.js in the npm package uplot@1.6.32.
	const npmSHA256 = "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"
	if sum := sha256.Sum256(inflated); !bytes.Equal(inflated, plain.Body.Bytes()) || hex.EncodeToString(sum[:]) != npmSHA256 {
		t.Errorf("uPlot: %d bytes inflated, %d plain, sha256 %x: not npm's file", len(inflated), plain.Body.Len(), sum)
	}
	weight := 0
	for _, p := range []string{"/", "/page.css", "/app.js", "/uplot.js", "/uplot.css"} {
		w := get(p, "gzip")
		if w.Code != 200 {
			t.Errorf("%s: %d", p, w.Code)
		}
		weight += w.Body.Len()
	}
	t.Logf("page weight: %d bytes (uPlot gzip-compressed)", weight)
	if weight >= 200_000 {
		t.Errorf("the page weighs %d bytes; the target is under 200 KB", weight)
	}
	for ae, want := range map[string]bool{"gzip": true, "deflate, gzip;q=1.0": true, "gzip;q=0": false, "gzip; q=0.000": false,
		"gzip;q=0.5": true, "*": true, "identity": false, "": false, "br": false} {
		if got := acceptsGzip(ae); got != want {
			t.Errorf("acceptsGzip(%q) = %v", ae, got)
		}
	}
}
