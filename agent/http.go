package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/karana"
	"github.com/karana-energy/karana-edge/web"
)

// The technician's page and /metrics ([http], package web). The server
// starts with Run on [http] listen as the file had it at start (a reload
// that changes [http] is logged: it takes a restart) and reads everything
// through the functions below: the status fields, the sampler's stats,
// the telemetry values, and the newest value of every series, which
// a.latest keeps on the sampler's way into the buffer.

// RecentLogs holds the process's last log lines for the page (NewLogger
// feeds it beside the configured output).
var RecentLogs = web.NewLogLines(300)

// httpState is the running page.
type httpState struct {
	mu   sync.Mutex
	srv  *web.Server
	addr string
}

// HTTPAddr is the address the page is served on; "" while it is not.
func (a *Agent) HTTPAddr() string {
	a.http.mu.Lock()
	defer a.http.mu.Unlock()
	return a.http.addr
}

// serveHTTP starts the page when [http] listen is set and returns its
// stop. A page that cannot start (port taken) is logged at ERROR and the
// daemon runs on without it: the box's job is its readings.
func (a *Agent) serveHTTP() (stop func()) {
	cfg := a.Config()
	if cfg.HTTP.Listen == "" {
		return func() {}
	}
	log := a.log.With("component", "http")
	present := sync.OnceValue(func() boards.Present { return boards.Devices("/") })
	srv, err := web.Start(web.Options{
		Config:   cfg.HTTP,
		DeviceID: cfg.Device.ID,
		Ring:     a.ring,
		Latest:   a.latest,
		Overview: a.overview,
		Sensors:  func() []web.SensorInfo { return a.sensorTiles(present) },
		Health: func() []web.Health {
			return append(a.telemetry(), karana.Process("/proc", "/sys")...)
		},
		Logs: RecentLogs,
		Log:  log,
	})
	if err != nil {
		log.Error("the technician's page is not served", "err", err)
		return func() {}
	}
	a.http.mu.Lock()
	a.http.srv, a.http.addr = srv, srv.Addr()
	a.http.mu.Unlock()
	log.Info("serving the technician's page and /metrics", "url", "http://"+srv.Addr()+"/", "login", cfg.HTTP.PasswordFile != "")
	return func() {
		srv.Stop(time.Second)
		a.http.mu.Lock()
		a.http.srv, a.http.addr = nil, ""
		a.http.mu.Unlock()
	}
}

// overview is the page's overview: the status document's fields and the
// uplink's and config's state.
func (a *Agent) overview() map[string]any {
	m := a.status()
	cfg, _, up := a.parts()
	m["device"] = cfg.Device.ID
	m["version"] = a.info.Version
	m["started_at"] = a.started.Format(time.RFC3339)
	m["uptime_s"] = int64(time.Since(a.started).Seconds())
	if up != nil {
		us := up.Stats()
		m["uplink_broker"] = us.Broker
		m["uplink_connected"] = us.Connected
		if us.Connected {
			m["uplink_connected_since"] = us.ConnectedSince.UTC().Format(time.RFC3339)
		}
		if us.LastError != "" {
			m["uplink_last_error"] = us.LastError
		}
		m["bytes_sent_today"] = us.Budget.SentToday
		m["bytes_sent_month"] = us.Budget.SentMonth
		if us.Budget.LeftToday >= 0 {
			m["budget_left_today"] = us.Budget.LeftToday
		}
		if us.Budget.LeftMonth >= 0 {
			m["budget_left_month"] = us.Budget.LeftMonth
		}
	}
	var remote []string
	for s, src := range a.State().Sources {
		if src == "remote" {
			remote = append(remote, s)
		}
	}
	slices.Sort(remote)
	m["config_source"] = "file"
	if len(remote) > 0 {
		m["config_source"] = "file + remote: " + strings.Join(remote, ", ")
	}
	return m
}

// sensorTiles is the sampler's view of every configured sensor, with the
// hint `karana-edge read` would print for a failing one.
func (a *Agent) sensorTiles(present func() boards.Present) []web.SensorInfo {
	cfg, sampler, _ := a.parts()
	if sampler == nil {
		return nil
	}
	var out []web.SensorInfo
	for _, st := range sampler.Stats() {
		if st.Name == karana.Name {
			continue
		}
		si := web.SensorInfo{
			Name: st.Name, Driver: st.Driver, Interval: st.Interval.String(),
			Reads: st.Reads, Errors: st.Errors, ConsecutiveErrors: st.ConsecutiveErrors,
			OutOfRange: st.OutOfRange, NotFitted: st.NotFitted,
			LastError: st.LastError, LastErrorTime: st.LastErrorTime, LastRead: st.LastRead,
		}
		if st.ConsecutiveErrors > 0 {
			if i := slices.IndexFunc(cfg.Sensors, func(s sensors.Config) bool { return s.Name == st.Name }); i >= 0 {
				si.Hints = sensors.Hint(cfg.Sensors[i], statsErr(st), cfg.Board, present())
			}
		}
		out = append(out, si)
	}
	return out
}

// statsErr rebuilds what sensors.Hint looks at of a read's error from the
// stats that recorded it.
func statsErr(st sensors.SensorStats) error {
	err := errors.New(st.LastError)
	if st.NotFitted {
		err = fmt.Errorf("%w: %w", err, sensors.ErrNotFitted)
	}
	if st.TimedOut {
		err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
	}
	return err
}

// recentHandler is a slog handler that passes each record to the
// configured one and keeps a text copy, with its time, in RecentLogs.
type recentHandler struct {
	main, recent slog.Handler
}

// withRecent adds RecentLogs to h, at the same level.
func withRecent(h slog.Handler, level slog.Leveler) slog.Handler {
	return recentHandler{main: h, recent: slog.NewTextHandler(RecentLogs, &slog.HandlerOptions{Level: level})}
}

func (h recentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.main.Enabled(ctx, l) || h.recent.Enabled(ctx, l)
}

func (h recentHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.recent.Enabled(ctx, r.Level) {
		h.recent.Handle(ctx, r.Clone()) // an in-memory copy: never fails
	}
	if !h.main.Enabled(ctx, r.Level) {
		return nil
	}
	return h.main.Handle(ctx, r)
}

func (h recentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recentHandler{main: h.main.WithAttrs(as), recent: h.recent.WithAttrs(as)}
}

func (h recentHandler) WithGroup(name string) slog.Handler {
	return recentHandler{main: h.main.WithGroup(name), recent: h.recent.WithGroup(name)}
}
