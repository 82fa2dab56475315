// Package update is karana-edge's self-update: the signed release
// document, its chunked and compressed payloads, their transfer over MQTT,
// the install beside the running binary, and the launcher that starts a
// new binary on trial and goes back to the previous one when it fails.
//
// # Release and document
//
// NewRelease (the `karana-edge release` verb) reads the target from the
// binary's build info and makes one or more payloads: the binary as one
// zstd frame, and deltas against earlier builds (zstd with the old binary
// as a raw dictionary, at the best level: the faster levels find little of
// the base). Each payload is cut into chunks whose SHA-256 the Document
// lists. The document travels in package remote's signature envelope
// (ed25519 over the exact bytes); Open refuses anything unsigned, and Box
// decides what a box takes: its own target, a version above its own
// (Version: git describe order) unless downgrades are allowed.
//
// # Transfer
//
// The operator publishes chunk n of a payload retained on
// "<payload topic>/<n>" (fleet-wide: one copy on the broker per release)
// and the document retained on "<prefix>/update/doc" of each box. The
// Updater subscribes to the document topic on every session, then to one
// chunk topic at a time: the broker sends the retained chunk, which is
// checked against the document, written to download.part with an fsync and
// counted in download.progress before the next is asked for. So a link cut
// or a restart costs at most the chunk in flight, a tampered chunk rejects
// the document before anything is installed, and every byte (the MQTT
// packets of subscribe, publish and unsubscribe included) is counted in
// the data budget through Link. Chunks are asked for only while Link says
// the link may carry them (connected, inside the windows, budget left).
//
// # Install, launcher, guard
//
// The binary is written to <data_dir>/update/bin (temp file, fsync,
// rename, fsync of the directory) and recorded as the trial in
// state.json; the daemon re-executes the launcher (launch.go). state.json
// is shared by binaries of different versions: its fields keep their
// meaning across releases, and every read-modify-write holds the flock on
// <data_dir>/update/lock.
package update
