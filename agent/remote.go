package agent

// Remote configuration over MQTT (package remote holds the pure parts).
// Every config/set is answered on config/result, exactly once and in the
// order the sets arrived; the retained config/state always holds the
// running config. Messages are queued in arrival order (remote_queue.go)
// and handled one at a time on one goroutine, never on paho's: applying a
// config may reconnect the uplink the message came in on, and replies
// wait for the link.
//
// Persistence: an applied overlay is written to data_dir/remote.pending.toml
// (temp file, fsync, rename, fsync of the directory) and renamed to
// remote.toml once confirmed (remote_confirm.go); a pending file found at
// boot was never confirmed (the box restarted during its probation) and is
// discarded, so a config that kills the box before it can be rolled back
// does not come back with the reboot. The highest accepted version goes to
// data_dir/remote.version, so a replay stays a replay after a reboot or a
// rollback. The local file is never written.
//
// Versions are bounded (remote.CheckVersion: at most 2^53, at most
// remote.MaxVersionStep above the current one), and the local file can
// always take the box back: [remote] version_reset = N makes the next
// start or SIGHUP forget the remote overlay and set the version to N, once
// per value of N (data_dir/remote.reset remembers the value honoured).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/internal/durable"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// RemoteFile and RemoteVersionFile are inside data_dir.
const (
	RemoteFile        = "remote.toml"
	RemotePendingFile = "remote.pending.toml"
	RemoteVersionFile = "remote.version"
	RemoteResetFile   = "remote.reset"
)

// Result statuses on config/result.
const (
	StatusApplied    = "applied"
	StatusRejected   = "rejected"
	StatusRolledBack = "rolled_back"
)

// replyRetry spaces attempts to publish a reply while the link is down.
const replyRetry = 250 * time.Millisecond

// maxResultErrors bounds the errors one config/result lists: a document of
// thousands of mistakes is answered in a few hundred bytes, not megabytes
// on a metered link.
const maxResultErrors = 20

// remoteState is the agent's remote side; mu guards the fields.
type remoteState struct {
	mu      sync.Mutex
	version int64
	overlay *remote.Doc
	queue   *inboundQueue
	ctx     context.Context
	cancel  context.CancelCauseFunc // restart command
	cmds    cmdIDs                  // ids of the commands run last (remote_cmdids.go)
	confirm context.CancelFunc      // the pending confirmation, if any
	// probation is what a rollback restores while a document is pending
	// confirmation; nil otherwise. A SIGHUP rebases it onto the new file.
	probation  *probation
	text       configMemo    // configText's last result
	stateDirty chan struct{} // poked when config/state must be republished
}

// SetResult is the config/result document.
type SetResult struct {
	Version int64         `json:"version"`
	Status  string        `json:"status"`
	Errors  []ResultError `json:"errors"`
}

// ResultError is one mistake in a rejected document.
type ResultError struct {
	Key     string `json:"key,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func resultErrors(err error) []ResultError {
	errs, ok := config.AsErrors(err)
	if !ok {
		return []ResultError{{Message: err.Error()}}
	}
	out := make([]ResultError, 0, min(len(errs), maxResultErrors+1))
	for _, e := range errs[:min(len(errs), maxResultErrors)] {
		out = append(out, ResultError{Key: e.Key, Line: e.Line, Message: e.Msg})
	}
	if n := len(errs) - maxResultErrors; n > 0 {
		out = append(out, ResultError{Message: fmt.Sprintf("and %d more errors (a result lists at most %d)", n, maxResultErrors)})
	}
	return out
}

// LoadEffective is LoadConfig plus, with [remote] enabled, the overlay
// persisted in data_dir merged over the file. An overlay that no longer
// validates against the file is logged and left out: the local file alone
// always starts the box.
//
// It is for boot: an overlay still pending confirmation (the box restarted
// during its probation) is discarded, so a config that kills the box
// cannot come back.
func LoadEffective(path string, log *slog.Logger) (*Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, _, err := loadEffective(path, log)
	if err == nil {
		pending := filepath.Join(cfg.Device.DataDir, RemotePendingFile)
		if _, err := os.Stat(pending); err == nil {
			log.Warn("remote config applied before the restart was never confirmed; discarding it", "file", pending)
			os.Remove(pending)
		}
	}
	return cfg, err
}

// loadEffective is the local file plus the confirmed overlay, and reports
// whether it honoured a version_reset (the running agent's version then
// goes down to it). It leaves a pending overlay alone: during a SIGHUP
// that document is still on probation.
func loadEffective(path string, log *slog.Logger) (*Config, bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	local, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("config: %w", err)
	}
	cfg, err := ParseConfig(path, local)
	if err != nil {
		return nil, false, err
	}
	reset := resetVersion(cfg, log)
	cfg.remoteVersion = readVersion(cfg.Device.DataDir)
	if !cfg.Remote.Enabled {
		return cfg, reset, nil
	}
	data, err := os.ReadFile(filepath.Join(cfg.Device.DataDir, RemoteFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, reset, nil
	}
	if err != nil {
		log.Warn("remote config not loaded; running the local file alone", "err", err)
		return cfg, reset, nil
	}
	d, err := remote.Parse(data, nil) // verified when it was accepted; the data dir is ours
	if err != nil {
		LogConfigError(log, "persisted remote config unreadable; running the local file alone", err)
		return cfg, reset, nil
	}
	cfg.remoteVersion = max(cfg.remoteVersion, d.Version)
	eff, err := mergeConfig(path, local, cfg, d)
	if err != nil {
		LogConfigError(log, "persisted remote config no longer valid with the local file; running the local file alone", err)
		return cfg, reset, nil
	}
	eff.remoteVersion = cfg.remoteVersion
	return eff, reset, nil
}

// resetVersion honours [remote] version_reset = N of the local file, once
// per N: the remote overlay is dropped and N becomes the current version.
// It reports whether it did. A failure is logged and leaves everything as
// it was, to be tried again at the next load.
func resetVersion(cfg *Config, log *slog.Logger) bool {
	n := cfg.Remote.VersionReset
	if n == nil {
		return false
	}
	dir := cfg.Device.DataDir
	resetFile := filepath.Join(dir, RemoteResetFile)
	if b, err := os.ReadFile(resetFile); err == nil && strings.TrimSpace(string(b)) == strconv.FormatInt(*n, 10) {
		return false // honoured already
	}
	prev := readVersion(dir)
	v := []byte(strconv.FormatInt(*n, 10) + "\n")
	if err := durable.WriteFile(filepath.Join(dir, RemoteVersionFile), v, 0o640); err != nil {
		log.Error("remote: [remote] version_reset not honoured; will retry at the next start or SIGHUP", "err", err)
		return false
	}
	for _, f := range []string{RemoteFile, RemotePendingFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Error("remote: version_reset: overlay not removed", "file", f, "err", err)
		}
	}
	durable.SyncDir(dir)
	if err := durable.WriteFile(resetFile, v, 0o640); err != nil {
		log.Error("remote: version_reset done but not recorded; it will be done again at the next start", "err", err)
	}
	log.Warn("remote: [remote] version_reset honoured: remote overlay dropped, the next document needs a version above it",
		"version", *n, "previous_version", prev)
	return true
}

// mergeConfig validates d merged over the local file exactly as a local
// file, then checks the allowed-key policy against cur. A section d sets
// only with keys of a part (the budget keys of [mqtt]) changes those keys
// of the local file's section and keeps the rest (remote.Schema.Patches).
func mergeConfig(path string, local []byte, cur *Config, d *remote.Doc) (*Config, error) {
	merged, lines, err := remote.Merge(local, d)
	if err != nil {
		return nil, err
	}
	next, err := ParseConfig("config/set", merged)
	if err != nil {
		if errs, ok := config.AsErrors(err); ok {
			if mapped := remote.MapErrors(errs, lines, d.FromJSON); len(mapped) > 0 {
				return nil, mapped
			}
			return nil, fmt.Errorf("remote: merged config invalid: %w", err)
		}
		return nil, err
	}
	if err := patchSections(path, local, next, d); err != nil {
		return nil, err
	}
	next.File = path
	if errs := checkPolicy(cur, next, d); len(errs) > 0 {
		return nil, errs
	}
	next.overlay = d
	next.remoteVersion = d.Version
	return next, nil
}

// patchSections applies the sections d patches to next over the local
// file's, and validates each patched section again.
func patchSections(path string, local []byte, next *Config, d *remote.Doc) error {
	secs := configSchema.Patches(d)
	if len(secs) == 0 {
		return nil
	}
	base, err := ParseConfig(path, local)
	if err != nil {
		return fmt.Errorf("remote: local config: %w", err)
	}
	var errs config.Errors
	for _, s := range secs {
		configSchema.Patch(s, d, next, base)
		v, ok := configSchema.Section(next, s).(interface{ Validate() error })
		if !ok {
			continue
		}
		err := v.Validate()
		var fes config.FieldErrors
		var fe *config.FieldError
		switch {
		case errors.As(err, &fes):
		case errors.As(err, &fe):
			fes = config.FieldErrors{fe}
		case err != nil:
			fes = config.FieldErrors{{Msg: err.Error()}}
		}
		for _, fe := range fes {
			key := s
			if fe.Key != "" {
				key += "." + fe.Key
			}
			errs = append(errs, &config.Error{File: "config/set", Line: lineIf(d, key), Key: key, Msg: fe.Msg})
		}
	}
	return errs.Err()
}

// checkPolicy enforces [remote] allow (of the running config) on a merged
// config: the sections and keys d sets, guarded keys on their effective
// values (remote.Schema.Check), and exec drivers and formats.
func checkPolicy(cur, next *Config, d *remote.Doc) config.Errors {
	pol := cur.Remote.Policy()
	var keys *config.KeyIndex
	if !d.FromJSON {
		keys = config.ScanKeys(d.TOML)
	}
	var errs config.Errors
	add := func(key, format string, args ...any) {
		e := &config.Error{File: "config/set", Key: key, Msg: fmt.Sprintf(format, args...)}
		if keys != nil {
			e.Line = keys.Find(key).Line
		}
		errs = append(errs, e)
	}
	for _, r := range configSchema.Check(pol, d, cur, next) {
		add(r.Key, "%s", r.Msg)
	}
	if !pol.Guard(remote.GuardExec) {
		for i, s := range next.Sensors {
			if _, ok := s.Options.(sensors.LocalOnly); ok && !slices.ContainsFunc(cur.Sensors, func(c sensors.Config) bool { return equalJSON(c, s) }) {
				add(config.IndexKey("sensor", i)+".driver", "driver %q runs programs: it may only be set in the local file (or with \"exec\" in [remote] allow)", s.Driver)
			}
		}
		for i, s := range next.Streams {
			if format.IsLocalOnly(s.Format) && !slices.ContainsFunc(cur.Streams, func(c uplink.StreamConfig) bool { return equalJSON(c, s) }) {
				add(config.IndexKey("stream", i)+".format", "format %q runs programs: it may only be set in the local file (or with \"exec\" in [remote] allow)", s.Format)
			}
		}
	}
	checkRemoteOutputs(cur, next, add)
	errs.Sort()
	return errs
}

// equalJSON compares two config values by their JSON form: driver options
// are pointers to structs, compared by content.
func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// remoteLoaded records the overlay and version cfg carries.
func (a *Agent) remoteLoaded(cfg *Config) {
	a.remote.mu.Lock()
	defer a.remote.mu.Unlock()
	a.remote.overlay = cfg.overlay
	a.remote.version = max(a.remote.version, cfg.remoteVersion)
}

// RemoteVersion is the highest remote config version accepted so far.
func (a *Agent) RemoteVersion() int64 {
	a.remote.mu.Lock()
	defer a.remote.mu.Unlock()
	return a.remote.version
}

// inboundQueue returns the agent's inbound queue, made on first use: a
// message may arrive before the worker starts.
func (a *Agent) inboundQueue() *inboundQueue {
	a.remote.mu.Lock()
	defer a.remote.mu.Unlock()
	if a.remote.queue == nil {
		a.remote.queue = newInboundQueue()
	}
	return a.remote.queue
}

// startRemote starts the inbound worker; the channel closes when it is done.
func (a *Agent) startRemote(ctx context.Context, restart context.CancelCauseFunc) <-chan struct{} {
	q := a.inboundQueue()
	a.remote.mu.Lock()
	a.remote.ctx, a.remote.cancel = ctx, restart
	a.remote.stateDirty = make(chan struct{}, 1)
	dirty := a.remote.stateDirty
	a.remote.mu.Unlock()
	done := make(chan struct{})
	if a.Config().Remote.Enabled {
		a.publishState(ctx)
	}
	stateDone := make(chan struct{})
	go func() {
		defer close(stateDone)
		a.stateLoop(ctx, dirty)
	}()
	go func() {
		defer close(done)
		defer func() { <-stateDone }()
		for ctx.Err() == nil {
			m, ok := q.pop()
			if !ok {
				select {
				case <-ctx.Done():
				case <-q.wake:
				}
				continue
			}
			a.handleInbound(ctx, m)
		}
	}()
	return done
}

// inbound is uplink.Options.Inbound, on paho's router goroutine: it
// queues (or queues the refusal of) the message and returns at once. A
// payload over its limit is refused by its length, before it is copied;
// one over remote.MaxDocument was cut by the uplink before paho read it
// (uplink.Options.MaxInbound) and arrives as a stand-in.
func (a *Agent) inbound(topic string, payload []byte) { a.queueInbound(topic, payload, false) }

// inboundRetained is uplink.Options.InboundRetained: a message delivered
// with the retain flag.
func (a *Agent) inboundRetained(topic string, payload []byte) { a.queueInbound(topic, payload, true) }

func (a *Agent) queueInbound(topic string, payload []byte, retained bool) {
	isSet := topic == a.Config().Topic("config", "set")
	limit := MaxCommand
	if isSet {
		limit = remote.MaxDocument
	}
	size := int64(len(payload))
	if n, head, ok := uplink.CutPayload(payload); ok {
		size, payload = n, head
	}
	q := a.inboundQueue()
	if !q.pushMsg(inboundMsg{topic: topic, retained: retained}, payload, size, limit, isSet) {
		q.mu.Lock()
		n := q.dropped
		q.mu.Unlock()
		if n&(n-1) == 0 { // the 1st, 2nd, 4th, 8th ...: a flood must not wear the card out in log lines
			a.log.Warn("remote: flood: message dropped unanswered", "topic", topic, "bytes", size,
				"refusals_waiting", maxRefusals, "dropped_total", n)
		}
	}
}

// handleInbound dispatches one message; a panic in a handler is logged and
// answered, never fatal.
func (a *Agent) handleInbound(ctx context.Context, m inboundMsg) {
	cfg := a.Config()
	cmdPrefix := cfg.Topic("cmd") + "/"
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("remote: handler panicked", "topic", m.topic, "panic", r)
			if name, ok := strings.CutPrefix(m.topic, cmdPrefix); ok {
				a.reply(ctx, cfg.Topic("cmd", name, "result"), cmdReply{ID: rawID(m.payload), Error: fmt.Sprintf("internal error: %v", r)}, false)
			}
		}
	}()
	switch {
	case m.topic == cfg.Topic("config", "set") && m.retained && m.refused == nil && a.seenRetained(m.payload):
		// the retained pattern: a version is applied once, never again
	case m.topic == cfg.Topic("config", "set"):
		res := SetResult{Version: m.version, Status: StatusRejected}
		if m.refused != nil {
			res.Errors = resultErrors(m.refused)
		} else {
			res = a.handleSet(ctx, m.payload)
		}
		a.log.Info("remote: config/set", "version", res.Version, "status", res.Status, "errors", len(res.Errors))
		a.sendResult(ctx, res)
	case strings.HasPrefix(m.topic, cmdPrefix) && m.retained && m.refused == nil &&
		a.remote.cmds.ran(cfg.Device.DataDir, strings.TrimPrefix(m.topic, cmdPrefix), rawID(m.payload)):
		// a retained command comes again at every subscribe: it ran (or
		// was refused as a duplicate) once, and is not answered again
		a.log.Debug("remote: retained command already ran; ignored (do not retain commands)", "topic", m.topic)
	case strings.HasPrefix(m.topic, cmdPrefix):
		name := strings.TrimPrefix(m.topic, cmdPrefix)
		reply := cmdReply{ID: json.RawMessage("null")}
		if m.refused != nil {
			reply.Error = m.refused.Error()
		} else {
			reply = a.handleCmd(ctx, name, m.payload)
		}
		a.reply(ctx, cfg.Topic("cmd", name, "result"), reply, false)
	default:
		a.log.Warn("remote: message on an unexpected topic", "topic", m.topic)
	}
}

// seenRetained reports whether a retained config/set is one the box has
// had already: it verifies (signature included) and its version is not
// above the current one. Such a document is dropped without a reply,
// which would otherwise repeat "rejected: replay" on config/result at
// every reconnect; anything else goes through handleSet and is answered.
func (a *Agent) seenRetained(payload []byte) bool {
	key, err := a.Config().Remote.Key()
	if err != nil {
		return false
	}
	d, err := remote.Parse(payload, key)
	if err != nil || d.Version > a.RemoteVersion() {
		return false
	}
	a.log.Debug("remote: retained config/set already applied or superseded; ignored", "version", d.Version, "current", a.RemoteVersion())
	return true
}

// handleSet validates, applies and persists one config/set.
func (a *Agent) handleSet(ctx context.Context, payload []byte) SetResult {
	cur := a.Config()
	reject := func(v int64, err error) SetResult {
		return SetResult{Version: v, Status: StatusRejected, Errors: resultErrors(err)}
	}
	key, err := cur.Remote.Key()
	if err != nil {
		return reject(0, fmt.Errorf("[remote] public key: %w", err))
	}
	d, err := remote.Parse(payload, key)
	if err != nil {
		return reject(0, err)
	}
	if err := remote.CheckVersion(d.Version, a.RemoteVersion()); err != nil {
		if errs, ok := config.AsErrors(err); ok {
			for _, e := range errs {
				e.Line = lineIf(d, "version")
			}
		}
		return reject(d.Version, err)
	}
	local, err := os.ReadFile(cur.File)
	if err != nil {
		return reject(d.Version, fmt.Errorf("local config: %w", err))
	}
	next, err := mergeConfig(cur.File, local, cur, d)
	if err != nil {
		return reject(d.Version, err)
	}
	a.stopConfirm()
	a.remote.mu.Lock()
	prevOverlay := a.remote.overlay
	a.remote.mu.Unlock()
	if err := a.Apply(next); err != nil {
		return reject(d.Version, err)
	}
	a.remoteLoaded(next)
	res := SetResult{Version: d.Version, Status: StatusApplied, Errors: []ResultError{}}
	if err := a.persistPending(d); err != nil {
		a.log.Error("remote: applied but not persisted; the local file rules after a restart", "err", err)
		res.Errors = append(res.Errors, ResultError{Message: "applied but not persisted: " + err.Error()})
	}
	a.publishState(ctx)
	a.startConfirm(ctx, d.Version, cur, prevOverlay)
	return res
}

func lineIf(d *remote.Doc, key string) int {
	if d.FromJSON {
		return 0
	}
	return config.ScanKeys(d.TOML).Find(key).Line
}

// persistPending writes the version and the overlay, pending confirmation.
func (a *Agent) persistPending(d *remote.Doc) error {
	dir := a.Config().Device.DataDir
	if err := durable.WriteFile(filepath.Join(dir, RemoteVersionFile), []byte(strconv.FormatInt(d.Version, 10)+"\n"), 0o640); err != nil {
		return err
	}
	return durable.WriteFile(filepath.Join(dir, RemotePendingFile), d.TOML, 0o640)
}

// confirmPending makes the pending overlay the one loaded at boot.
func (a *Agent) confirmPending() error {
	dir := a.Config().Device.DataDir
	if err := os.Rename(filepath.Join(dir, RemotePendingFile), filepath.Join(dir, RemoteFile)); err != nil {
		return fmt.Errorf("remote: confirming: %w", err)
	}
	durable.SyncDir(dir)
	return nil
}

// dropPending removes the pending overlay: remote.toml (the previous
// confirmed one) stays what boot loads.
func (a *Agent) dropPending() error {
	err := os.Remove(filepath.Join(a.Config().Device.DataDir, RemotePendingFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}

func readVersion(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, RemoteVersionFile))
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return max(v, 0)
}

// reply publishes v as JSON, retrying while the link is down (the uplink
// may be restarting) until ctx is done.
func (a *Agent) reply(ctx context.Context, topic string, v any, retained bool) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("remote: reply not encodable", "topic", topic, "err", err)
		return
	}
	go func() {
		for {
			_, _, up := a.parts()
			err := up.Publish(topic, b, retained)
			if err == nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(replyRetry):
			}
		}
	}()
}

// StateDoc is the retained config/state document.
type StateDoc struct {
	Version int64 `json:"version"`
	// Hash is the sha256 (hex) of Config, the effective config as TOML.
	Hash string `json:"hash"`
	// Sources maps each top-level section to "file" or "remote".
	Sources map[string]string `json:"sources"`
	// Config is the effective config as `karana-edge check` prints it. It
	// holds no secret: the password lives in password_file, whose contents
	// are never read into it, and file paths are not secrets.
	Config string `json:"config"`
}

// State builds the config/state document of the running config.
func (a *Agent) State() StateDoc {
	text, hash := a.configText()
	a.remote.mu.Lock()
	ov, v := a.remote.overlay, a.remote.version
	a.remote.mu.Unlock()
	src := map[string]string{}
	for _, s := range configSchema.Sections {
		src[s] = "file"
	}
	if ov != nil {
		for _, s := range ov.Sections {
			src[s] = "remote"
		}
	}
	return StateDoc{Version: v, Hash: hash, Sources: src, Config: text}
}

// configText is the running config as TOML and its sha256 (hex), worked
// out once per config: the status health poll asks for the hash every few
// seconds, and writing a config of fifty sensors by reflection each time
// cost the daemon a quarter more CPU and heap.
func (a *Agent) configText() (text, hash string) {
	cfg := a.Config()
	a.remote.mu.Lock()
	memo := a.remote.text
	a.remote.mu.Unlock()
	if memo.cfg == cfg {
		return memo.text, memo.hash
	}
	var b strings.Builder
	if err := cfg.WriteTOML(&b); err != nil {
		b.WriteString("# " + err.Error())
	}
	text = b.String()
	sum := sha256.Sum256([]byte(text))
	hash = hex.EncodeToString(sum[:])
	a.remote.mu.Lock()
	a.remote.text = configMemo{cfg: cfg, text: text, hash: hash}
	a.remote.mu.Unlock()
	return text, hash
}

// configHash is the status document's config_hash and config_version.
func (a *Agent) configHash() (string, int64) {
	_, hash := a.configText()
	return hash, a.RemoteVersion()
}

// configMemo is configText's result for one running config (configs are
// never changed in place: Apply swaps the pointer).
type configMemo struct {
	cfg        *Config
	text, hash string
}

// publishState asks for config/state to be republished.
func (a *Agent) publishState(context.Context) {
	a.remote.mu.Lock()
	dirty := a.remote.stateDirty
	a.remote.mu.Unlock()
	if dirty == nil {
		return
	}
	select {
	case dirty <- struct{}{}:
	default: // already pending; the publish will take the newest state
	}
}

// stateLoop publishes config/state whenever poked, each attempt with the
// state of that moment, so a late retry never overwrites a newer state.
func (a *Agent) stateLoop(ctx context.Context, dirty <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-dirty:
		}
		for {
			b, err := json.Marshal(a.State())
			if err != nil {
				a.log.Error("remote: config/state not encodable", "err", err)
				break
			}
			cfg, _, up := a.parts()
			if err := up.Publish(cfg.Topic("config", "state"), b, true); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-dirty: // newer state: retry now
			case <-time.After(replyRetry):
			}
		}
	}
}
