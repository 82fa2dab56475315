package agent

// Commands on <prefix>/cmd/<name>: a JSON object with an "id" (any JSON
// value, echoed back) and the command's arguments; the reply goes to
// <prefix>/cmd/<name>/result:
//
//	{"id":7,"ok":true,"result":{...}}
//	{"id":7,"ok":false,"error":"unknown command \"reboot\" (ping, read, flush, status, buffer, restart)"}
//
// A malformed body or unknown command gets an error reply (id null when it
// cannot be read); a handler's panic is recovered by handleInbound.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/clock"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
)

// Commands are the command names.
var Commands = []string{"ping", "read", "flush", "status", "buffer", "restart"}

// ErrRestartRequested is the cause of the run context's cancellation by the
// restart command.
var ErrRestartRequested = errors.New("restart requested by remote command")

// MaxCommand bounds a command body.
const MaxCommand = 16 << 10

type cmdRequest struct {
	ID      json.RawMessage `json:"id"`
	Sensors []string        `json:"sensors"` // read
}

type cmdReply struct {
	ID     json.RawMessage `json:"id"`
	OK     bool            `json:"ok"`
	Result any             `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// rawID returns the body's id if it can be read, else JSON null.
func rawID(payload []byte) json.RawMessage {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(payload, &r) == nil && len(r.ID) > 0 {
		return r.ID
	}
	return json.RawMessage("null")
}

// handleCmd runs one command and returns its reply.
func (a *Agent) handleCmd(ctx context.Context, name string, payload []byte) cmdReply {
	fail := func(id json.RawMessage, format string, args ...any) cmdReply {
		return cmdReply{ID: id, Error: fmt.Sprintf(format, args...)}
	}
	if len(payload) > MaxCommand {
		return fail(json.RawMessage("null"), "body is %d bytes; at most %d", len(payload), MaxCommand)
	}
	var req cmdRequest
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fail(rawID(payload), "malformed body: want a JSON object with an \"id\": %v", err)
	}
	if dec.More() {
		return fail(req.ID, "malformed body: trailing data after the JSON object")
	}
	if len(req.ID) == 0 || string(req.ID) == "null" {
		return fail(json.RawMessage("null"), "malformed body: \"id\" is missing")
	}
	ok := func(v any) cmdReply { return cmdReply{ID: req.ID, OK: true, Result: v} }
	if name != "read" && len(req.Sensors) > 0 {
		return fail(req.ID, "command %q takes no \"sensors\"", name)
	}
	if slices.Contains(Commands, name) {
		fresh, err := a.remote.cmds.claim(a.Config().Device.DataDir, name, req.ID)
		if err != nil {
			a.log.Error("remote: command ids", "command", name, "err", err)
		}
		if !fresh {
			a.log.Warn("remote: command id already run; not run again", "command", name, "id", string(req.ID))
			return fail(req.ID, "command %q with id %s already ran: each id runs at most once (a redelivered message is not run again; send a new id to run it again)", name, req.ID)
		}
	}
	switch name {
	case "ping":
		return ok(map[string]any{"pong": true, "time": time.Now().UTC().Format(time.RFC3339Nano), "clock_synced": clock.Synced()})
	case "read":
		res, err := a.readSensors(ctx, req.Sensors)
		if err != nil {
			return fail(req.ID, "%v", err)
		}
		return ok(res)
	case "flush":
		_, _, up := a.parts()
		up.Flush()
		return ok(map[string]any{"flushed": true})
	case "status":
		_, s, up := a.parts()
		st := a.status()
		st["connected"] = up.Connected()
		st["sensors"] = s.Stats()
		st["config_version"] = a.RemoteVersion()
		st["version"] = a.info.Version
		st["uptime_s"] = int64(time.Since(a.started).Seconds())
		return ok(st)
	case "buffer":
		st, err := a.ring.Stats()
		if err != nil {
			return fail(req.ID, "buffer stats: %v", err)
		}
		return ok(st)
	case "restart":
		a.remote.mu.Lock()
		cancel := a.remote.cancel
		a.remote.mu.Unlock()
		if cancel == nil {
			return fail(req.ID, "restart: the daemon is not running")
		}
		// Reply first: the shutdown disconnects. systemd (Restart=always)
		// starts the process again.
		go func() {
			time.Sleep(500 * time.Millisecond)
			cancel(ErrRestartRequested)
		}()
		return ok(map[string]any{"restarting": true})
	}
	return fail(req.ID, "unknown command %q (%s)", name, strings.Join(Commands, ", "))
}

type readResult struct {
	Readings []readingJSON `json:"readings"`
	Errors   []string      `json:"errors,omitempty"`
}

type readingJSON struct {
	Name  string  `json:"name"`
	TS    string  `json:"ts"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// readSensors reads the named configured sensors once, on fresh driver
// instances (the sampler keeps its own); nothing is buffered.
func (a *Agent) readSensors(ctx context.Context, names []string) (readResult, error) {
	if len(names) == 0 {
		return readResult{}, errors.New("read: \"sensors\" must name at least one configured sensor")
	}
	cfg, sampler, _ := a.parts()
	sub := &Config{}
	var running []string
	for _, n := range names {
		i := slices.IndexFunc(cfg.Sensors, func(s sensors.Config) bool { return s.Name == n })
		if i < 0 {
			return readResult{}, fmt.Errorf("read: no sensor %q configured", n)
		}
		sc := cfg.Sensors[i]
		if !sc.Disabled {
			// Read through the sampler's own instance: a second one would
			// put two users on the same bus.
			running = append(running, n)
			continue
		}
		sc.Disabled = false
		sub.Sensors = append(sub.Sensors, sc)
	}
	res := readResult{Readings: []readingJSON{}}
	add := func(rs []reading.Reading, err error) {
		for _, r := range rs {
			res.Readings = append(res.Readings, readingJSON{Name: r.Name, TS: r.Time.UTC().Format(time.RFC3339Nano), Value: r.Value, Unit: r.Unit})
		}
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	for _, n := range running {
		add(sampler.ReadNow(ctx, n))
	}
	// A disabled sensor has no instance, so nothing else is on its bus.
	list, err := BuildSensors(sub)
	if err != nil {
		return readResult{}, fmt.Errorf("read: %w", err)
	}
	for _, c := range list {
		add(sensors.ReadOnce(ctx, c))
	}
	return res, nil
}
