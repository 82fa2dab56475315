package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets/index.html assets/app.js assets/page.css assets/uplot/uPlot.min.css assets/uplot/uPlot.iife.min.js.gz
var assets embed.FS

// SensorInfo is one sensor's tile: the sampler's view of it and, when it
// fails, what `karana-edge read` would tell to check.
type SensorInfo struct {
	Name              string    `json:"name"`
	Driver            string    `json:"driver"`
	Interval          string    `json:"interval"`
	Reads             uint64    `json:"reads"`
	Errors            uint64    `json:"errors"`
	ConsecutiveErrors uint64    `json:"consecutive_errors"`
	OutOfRange        uint64    `json:"out_of_range"`
	NotFitted         bool      `json:"not_fitted"`
	LastError         string    `json:"last_error,omitempty"`
	LastErrorTime     time.Time `json:"last_error_time,omitzero"`
	LastRead          time.Time `json:"last_read,omitzero"`
	Hints             []string  `json:"hints,omitempty"`
	// Values are the sensor's series' newest values (filled by the page).
	Values []Point `json:"values"`
}

// Options are what the page shows and where it comes from. Every function
// must be cheap and safe to call from any goroutine.
type Options struct {
	Config   Config
	DeviceID string
	Ring     Ring
	Latest   *Latest
	// Overview is the box's state as name → value: status document fields.
	Overview func() map[string]any
	// Sensors lists the configured sensors, the agent's telemetry excluded.
	Sensors func() []SensorInfo
	// Health is the karana.* telemetry values, taken at the call.
	Health func() []Health
	Logs   *LogLines
	Log    *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is the running page.
type Server struct {
	opts   Options
	loop   *loop
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}

	plotMu  sync.Mutex    // one plot reduction at a time: each reads the buffer
	clients chan struct{} // live-update slots
}

// maxClients bounds the live-update connections: each costs a goroutine
// and an encode per update.
const maxClients = 4

// Start listens on opts.Config.Listen and serves until Stop. It fails when
// the address cannot be bound or the password file cannot be read.
func Start(opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, done: make(chan struct{}), clients: make(chan struct{}, maxClients)}
	h := s.Handler()
	if opts.Config.PasswordFile != "" {
		hash, err := ReadHash(opts.Config.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("http %s: %w", opts.Config.Listen, err)
		}
		h = (&basicAuth{hash: hash}).wrap(h)
	} else if lo, err := IsLoopback(opts.Config.Listen); err != nil || !lo {
		// Validate refuses this; never serve the box to the network open.
		return nil, fmt.Errorf("http %s: not a loopback address and no password_file", opts.Config.Listen)
	}
	ln, err := net.Listen("tcp", opts.Config.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ln, s.cancel = ln, cancel
	s.loop = &loop{ctx: ctx, h: h, log: opts.Log.Warn, conns: map[net.Conn]struct{}{}}
	go func() {
		defer close(s.done)
		s.loop.serve(ln)
	}()
	return s, nil
}

// Addr is the address the page is served on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop closes the listener, tells the handlers to finish (the live
// updates end), and closes the connections still open after timeout.
func (s *Server) Stop(timeout time.Duration) {
	s.cancel()
	s.ln.Close()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.loop.closeAll()
		<-s.done
	}
}

// Handler is the page's routes, without the login. Only GET and HEAD are
// served: nothing here changes config or drives an output.
func (s *Server) Handler() http.Handler {
	// Exact paths: a map, not http.ServeMux, whose pattern router is
	// more binary than this page's eleven routes are worth.
	routes := map[string]http.HandlerFunc{
		"/":           s.asset("assets/index.html", "text/html; charset=utf-8"),
		"/app.js":     s.asset("assets/app.js", "text/javascript; charset=utf-8"),
		"/page.css":   s.asset("assets/page.css", "text/css; charset=utf-8"),
		"/uplot.js":   s.gzipAsset("assets/uplot/uPlot.iife.min.js.gz", "text/javascript; charset=utf-8"),
		"/uplot.css":  s.asset("assets/uplot/uPlot.min.css", "text/css; charset=utf-8"),
		"/api/state":  s.handleState,
		"/api/series": s.handleSeries,
		"/api/events": s.handleEvents,
		"/api/log":    s.handleLog,
		"/export":     s.handleExport,
		"/metrics":    s.handleMetrics,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		// Scripts and styles only from the box itself; no framing.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		route, ok := routes[r.URL.Path]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		route(w, r)
	})
}

func (s *Server) asset(name, ctype string) http.HandlerFunc {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic("web: missing embedded asset " + name) // a build mistake
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	}
}

// gzipAsset serves an asset embedded gzip-compressed (half the bytes, in
// the binary and on the link) as is to a client that accepts gzip, and
// inflated, once, to one that does not.
func (s *Server) gzipAsset(name, ctype string) http.HandlerFunc {
	gz, err := assets.ReadFile(name)
	if err != nil {
		panic("web: missing embedded asset " + name)
	}
	plain := sync.OnceValues(func() ([]byte, error) {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	})
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("Vary", "Accept-Encoding")
		b := gz
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
		} else if b, err = plain(); err != nil {
			http.Error(w, "web: "+name+": "+err.Error(), http.StatusInternalServerError) // a build mistake
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	}
}

// acceptsGzip reads an Accept-Encoding header: gzip listed, and not with
// q=0.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") || strings.TrimSpace(coding) == "*" {
			q := strings.ReplaceAll(params, " ", "")
			return !strings.HasPrefix(q, "q=0") || strings.HasPrefix(q, "q=0.") && strings.Trim(q[4:], "0") != ""
		}
	}
	return false
}

// state is /api/state and each live update.
type state struct {
	Device   string         `json:"device"`
	Now      time.Time      `json:"now"`
	Overview map[string]any `json:"overview"`
	Sensors  []SensorInfo   `json:"sensors"`
	// Points are the series updated since the previous live update (all of
	// them in /api/state), for the plots to extend.
	Points []Point `json:"points"`
}

func (s *Server) state(since uint64) (state, uint64) {
	st := state{Device: s.opts.DeviceID, Now: s.opts.Now().UTC()}
	if s.opts.Overview != nil {
		st.Overview = s.opts.Overview()
	}
	all, v := s.opts.Latest.Since(0)
	if s.opts.Sensors != nil {
		st.Sensors = s.opts.Sensors()
	}
	if st.Sensors == nil {
		st.Sensors = []SensorInfo{} // the page iterates it
	}
	names := make([]string, len(st.Sensors))
	for i := range st.Sensors {
		names[i] = st.Sensors[i].Name
	}
	for _, p := range all {
		if sensor, _ := splitSeries(p.Name, names); sensor != "" {
			for i := range st.Sensors {
				if st.Sensors[i].Name == sensor {
					st.Sensors[i].Values = append(st.Sensors[i].Values, p)
				}
			}
		}
		if p.version > since {
			st.Points = append(st.Points, p)
		}
	}
	for i := range st.Sensors {
		if st.Sensors[i].Values == nil {
			st.Sensors[i].Values = []Point{}
		}
	}
	return st, v
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	st, _ := s.state(0)
	writeJSON(w, st)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// The client went away, or a value JSON cannot hold: the status
		// line is out already, so only the log can say.
		slog.Debug("http: encoding a response", "err", err)
	}
}

// Ranges are the plot ranges the page offers.
var Ranges = map[string]time.Duration{
	"1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour,
}

func (s *Server) handleSeries(w http.ResponseWriter, r *http.Request) {
	rng := r.URL.Query().Get("range")
	if rng == "" {
		rng = "24h"
	}
	d, ok := Ranges[rng]
	if !ok {
		http.Error(w, fmt.Sprintf("range %q: want 1h, 6h, 24h or 7d", rng), http.StatusBadRequest)
		return
	}
	to := s.opts.Now()
	from := to.Add(-d)
	s.plotMu.Lock()
	series, oldest, err := Reduce(s.opts.Ring, from, to)
	s.plotMu.Unlock()
	if err != nil {
		s.opts.Log.Warn("http: plot", "range", rng, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := struct {
		From   float64  `json:"from"`
		To     float64  `json:"to"`
		Oldest float64  `json:"oldest,omitempty"`
		Keep   float64  `json:"keep,omitempty"` // seconds delivered readings are kept
		Series []Series `json:"series"`
	}{From: unixSeconds(from), To: unixSeconds(to), Keep: keepSeconds(s.opts.Ring), Series: series}
	if !oldest.IsZero() {
		out.Oldest = unixSeconds(oldest)
	}
	writeJSON(w, out)
}

// liveGap is the least time between two live updates: a slot's readings
// arrive sensor by sensor within milliseconds and go out together.
const liveGap = time.Second

// keepAlive is sent while nothing changes, so proxies and phones keep the
// connection open and a dead client is noticed.
const keepAlive = 30 * time.Second

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case s.clients <- struct{}{}:
		defer func() { <-s.clients }()
	default:
		http.Error(w, fmt.Sprintf("too many live pages open (at most %d)", maxClients), http.StatusServiceUnavailable)
		return
	}
	// Updates are counted from here: one appended while the headers go
	// out is sent, not missed.
	_, v := s.opts.Latest.Since(^uint64(0))
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	fl.Flush()
	ctx := r.Context()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		changed := s.opts.Latest.ChangedSince(v)
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
			continue
		case <-changed:
		}
		select { // gather the rest of the slot
		case <-ctx.Done():
			return
		case <-time.After(liveGap):
		}
		var st state
		st, v = s.state(v)
		b, err := json.Marshal(st)
		if err != nil {
			s.opts.Log.Warn("http: live update", "err", err)
			continue
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return
		}
		fl.Flush()
	}
}

func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.opts.Logs == nil {
		return
	}
	fmt.Fprint(w, strings.Join(s.opts.Logs.Lines(), "\n"))
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var health []Health
	if s.opts.Health != nil {
		health = s.opts.Health()
	}
	var readings []Point
	var names []string
	if s.opts.Config.MetricsReadings {
		readings, _ = s.opts.Latest.Since(0)
		if s.opts.Sensors != nil {
			for _, si := range s.opts.Sensors() {
				names = append(names, si.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, s.opts.DeviceID, health, readings, names)
}
