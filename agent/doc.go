// Package agent wires karana-edge's pipeline: the sampler feeds the buffer,
// the buffer feeds the uplink's streams, and the control socket lets
// `karana-edge buffer stats|export` look inside while the daemon runs.
//
// It is the one place that knows bbolt feeds MQTT; every other package only
// declares the small interface it needs from its neighbour.
//
// # Config
//
// Each package owns the struct of its own TOML section (sensors.Config,
// uplink.StreamConfig, buffer.Config, …); Config composes them, and
// ParseConfig validates what no single section can: stream globs that
// match no series, sensors' buses and pins against the board profile,
// telemetry against the streams, names used twice. Errors carry the file,
// line, column and key, so `karana-edge check` can point at the mistake.
// What `run` cannot do (a port out of range, a data_dir that is a file, a
// schedule that never fires) is refused here, not found at run time.
//
// # Lifecycle
//
// New opens the buffer and builds the sampler and the uplink; Run starts
// them, then the remote side, the clock watch, the control socket and the
// systemd notifier (ready once the buffer is open and the sampler runs;
// the watchdog is pinged only while reads and commits make progress).
// The buffer never stops the box: a corrupt file is moved aside, a full or
// read-only card degrades to a bounded memory queue (see package buffer),
// and the status document says so.
//
// Shutdown (SIGTERM, SIGINT, the restart command) stops sampling, commits,
// lets the uplink publish what the broker takes and closes the buffer, all
// within ShutdownBudget.
//
// # Changing the running config
//
// Apply makes a validated config the running one without a restart:
// sensors added, removed or re-timed restart the sampler; stream changes
// restart only those streams on the live connection (the MQTT session and
// its subscriptions stay up); [mqtt] changes reconnect. applyMu serialises
// Apply, Reload (SIGHUP), remote sets and shutdown.
//
// Remote documents (remote.go) arrive on paho's goroutine and go into one
// bounded queue, processed in order by one worker, so every config/set
// that reaches the box gets exactly one config/result. A document is
// bounded in size and depth before any parsing, checked against
// [remote] allow and the version rules, merged over the local file and
// validated as the file is, then applied on probation: unless the uplink
// reconnects and the sampler reads within confirm_timeout, the previous
// config comes back (remote_confirm.go). A pending document is dropped at
// boot, so a config that kills the box cannot return; a SIGHUP during the
// probation keeps it on probation over the re-read file.
//
// # Health
//
// The status document (status) is the operator's view of a box nobody
// visits: buffer depth and failures, seq jumps after a lost file, clock
// sync, config version. Its health fields (everything but the counters that
// move every second) are digested, and the uplink publishes the document
// again when the digest changes, so a disk that fails while the link is up
// is seen at once. Self-telemetry (telemetry.go) samples the same figures
// as karana.* readings.
package agent
