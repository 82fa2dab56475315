// Package uplink streams buffered readings to an MQTT broker, batch by batch,
// at least once and in seq order per stream, over links that drop for hours.
//
// # Delivery
//
// Each [[stream]] runs in its own goroutine with its own cursor in the
// buffer (Source). Every period (or on every buffer commit when period is 0)
// it reads from cursor+1 in chunks of max_batch readings, keeps those its
// globs match, and publishes them at QoS 1 on <prefix>/data/<stream>. While a
// backlog remains it goes on back to back, without waiting for the next
// period, with up to mqtt.inflight batches awaiting their PUBACK at once:
// on a link with a 1 s round trip, waiting for each PUBACK would cap a drain
// at max_batch readings per second.
//
// The cursor moves only over the leading acknowledged batches, in order, so
// it never passes a batch the broker has not taken. When a publish fails,
// a PUBACK does not come within publish_timeout, or the connection drops,
// the whole window is dropped: the uplink cuts the connection, reconnects
// and every stream resends from its cursor. The backend sees duplicates
// (same seqs), never a loss and never an older batch after a newer one
// within a connection.
//
// A stream's loop (stream.go, serve) is made of parts: the in-flight window
// and the spans sent ahead of the cursor (inflight.go), the one policy that
// says when the stream may publish and what, tail, backlog or nothing
// (policy.go), the batches (build.go), and the publish and ack path
// (publish.go).
//
// # The batch range and dropped
//
// first_seq..last_seq is the part of the buffer a batch accounts for: every
// seq in it is either in readings, not matched by the stream's globs, or
// counted in dropped. A stream's batches are contiguous (the next starts at
// last_seq+1) except after a reconnect, when a batch may start earlier again
// (a resend). dropped counts the seqs of the range that the buffer no longer
// had: overflow (the buffer's first seq moved past the cursor while the link
// was down) or readings lost before commit. A range with no matched reading
// and nothing dropped is not published; the cursor moves over it and the
// next published batch's range starts where it began. A range with drops but
// no matched reading is published with an empty readings list, so the loss
// is announced even on a filtered stream.
//
// # The MQTT session (paho v1.5.1, read from its sources)
//
// Every connection is a fresh paho client with the memory store,
// AutoReconnect and ConnectRetry off; the broker keeps the device's session
// (clean_session = false, the default) only for what it queues inbound. With AutoReconnect on, paho
// keeps pending publish tokens alive across the loss and resends its stored
// messages by itself after reconnecting (client.reconnect calls resume even
// with CleanSession), racing the resend from the cursor; with it off, a loss
// fails every pending token at once. The uplink dials the socket itself
// (CustomOpenConnectionFn) so that it can cut a stalled link abruptly: the
// broker then publishes the will, which is the honest status.
//
// Reconnects wait an exponential, jittered delay between reconnect_min and
// reconnect_max: a restarted broker does not get the whole fleet back in the
// same second.
//
// # Status
//
// <prefix>/status holds a retained document: "online" (device, version,
// started_at, connected_at, bytes_sent_today/_month, budget_left_today/
// _month and the fields of Options.Status) published at every connect,
// "offline" as the will, and "offline" with reason "shutdown" on a clean
// stop or "window" when a link window ends (a clean DISCONNECT discards the
// will).
//
// # Link cost
//
// priority.go orders backlogs when the link returns (priority, backfill,
// ranges sent ahead of the cursor); budget.go counts wire bytes per UTC day
// and month in the buffer's state and stops non-essential streams once a
// budget is spent; ratelimit.go is the token bucket in front of publishes;
// windows.go keeps the link down outside cron windows (package cron).
package uplink
