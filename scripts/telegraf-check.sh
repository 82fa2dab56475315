#!/usr/bin/env bash
# The Telegraf config of docs/fleet.md ("Telegraf and InfluxDB"), proven end
# to end against a real Telegraf, a real Mosquitto and the real daemon on the
# sim board. A manual check (building Telegraf takes a minute or more the
# first time), not part of `make test`:
#
#   scripts/telegraf-check.sh            exit 0 when every check passes
#
# What it does:
#   1. builds Telegraf $TELEGRAF_VERSION with only the plugins needed
#      (custom build tags) into $TELEGRAF_CACHE, outside the repo; the source
#      comes through the Go module proxy; reused while the binary is there;
#   2. starts Mosquitto on a free loopback port (installs it with apt-get when
#      missing and run as root);
#   3. takes the telegraf.conf block from docs/fleet.md as written, changing
#      only the servers (to the local broker) and the output (outputs.file,
#      influx serializer, instead of influxdb_v2), and runs two instances of
#      it (client ids ...-1 and ...-2) so the $share group really splits;
#   4. takes the box's [[stream]] block from the doc (periods shortened to
#      2s) and runs karana-edge on the sim board for $RUN_SECS seconds, then
#      stops it with SIGTERM (so an offline status document is published);
#   5. scripts/telegraf-verify.go compares every metric Telegraf wrote with
#      what the box published (captured by a subscriber of its own): tags,
#      typed fields, ns timestamps (json "ts" with milliseconds included), the
#      status documents online and offline, each data metric exactly once.
#
# Environment: FLEET_MD (default docs/fleet.md: point it at a broken copy to
# see the check fail), TELEGRAF_VERSION, TELEGRAF_CACHE, RUN_SECS, KEEP=1
# (keep the work dir and print its path).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)

TELEGRAF_VERSION=${TELEGRAF_VERSION:-v1.37.2}
TELEGRAF_CACHE=${TELEGRAF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/karana-edge/telegraf}
FLEET_MD=${FLEET_MD:-docs/fleet.md}
RUN_SECS=${RUN_SECS:-12}
TAGS="custom,inputs.mqtt_consumer,outputs.file,parsers.influx,parsers.json_v2,serializers.influx"
DEVICE=tg-check-1

log() { echo "telegraf-check: $*"; }
fail() {
	echo "telegraf-check: FAIL: $*" >&2
	exit 1
}
start=$(date +%s)

case "$(realpath -m "$TELEGRAF_CACHE")/" in
"$repo"/*) fail "TELEGRAF_CACHE=$TELEGRAF_CACHE is inside the repo; Telegraf never goes in here" ;;
esac

# --- 1. Telegraf --------------------------------------------------------------
telegraf="$TELEGRAF_CACHE/telegraf-$TELEGRAF_VERSION"
if [ -x "$telegraf" ] && "$telegraf" --version 2>/dev/null | grep -q "Telegraf ${TELEGRAF_VERSION#v}"; then
	log "telegraf: $telegraf (cached)"
else
	log "building Telegraf $TELEGRAF_VERSION with tags $TAGS"
	mkdir -p "$TELEGRAF_CACHE"
	t0=$(date +%s)
	# -mod=mod: the repo's go.mod is not involved (GOFLAGS only lets the
	# download resolve a module outside any main module's requirements).
	dir=$(cd "$TELEGRAF_CACHE" && GOFLAGS=-mod=mod go mod download -json "github.com/influxdata/telegraf@$TELEGRAF_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || fail "go mod download github.com/influxdata/telegraf@$TELEGRAF_VERSION gave no module dir"
	src="$TELEGRAF_CACHE/src-$TELEGRAF_VERSION"
	rm -rf "$src"
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	(cd "$src" && go build -tags "$TAGS" \
		-ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=${TELEGRAF_VERSION#v}" \
		-o "$telegraf.tmp" ./cmd/telegraf)
	mv "$telegraf.tmp" "$telegraf"
	rm -rf "$src"
	log "built $("$telegraf" --version) in $(($(date +%s) - t0))s"
fi

# --- the work dir and cleanup -------------------------------------------------
work=$(mktemp -d /tmp/telegraf-check.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-}" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log "building karana-edge and the verifier"
go build -o "$work/karana-edge" ./cmd/karana-edge
go build -o "$work/telegraf-verify" scripts/telegraf-verify.go

# --- 2. Mosquitto -------------------------------------------------------------
mosquitto=$(command -v mosquitto || true)
[ -z "$mosquitto" ] && [ -x /usr/sbin/mosquitto ] && mosquitto=/usr/sbin/mosquitto
if [ -z "$mosquitto" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		log "installing mosquitto"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null || fail "apt-get install mosquitto failed"
		mosquitto=/usr/sbin/mosquitto
	else
		fail "mosquitto not found (apt-get install mosquitto)"
	fi
fi
port=$(free_port) || fail "no free port"
broker="tcp://127.0.0.1:$port"
cat >"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
EOF
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "mosquitto did not listen on $port: $(cat "$work/mosquitto.log")"
log "broker: $("$mosquitto" -h 2>/dev/null | head -1) on $broker"

# --- 3. telegraf.conf from the doc --------------------------------------------
# The ```toml block starting with "# telegraf.conf"; everything from
# [[outputs.influxdb_v2]] on is replaced by a file output.
awk '/^```toml$/ { getline first; if (first == "# telegraf.conf") { on = 1; print first }; next }
     on && /^```$/ { exit }
     on && /^\[\[outputs\./ { skip = 1 }
     on && !skip { print }' "$FLEET_MD" >"$work/telegraf.conf.in"
grep -q '^\[\[inputs.mqtt_consumer\]\]' "$work/telegraf.conf.in" || fail "$FLEET_MD: no telegraf.conf block found"
servers=$(grep -c '^ *servers *= *\["ssl://mqtt.example.com:8883"\]' "$work/telegraf.conf.in" || true)
inputs=$(grep -c '^\[\[inputs.mqtt_consumer\]\]' "$work/telegraf.conf.in")
[ "$servers" = "$inputs" ] || fail "$FLEET_MD: $inputs mqtt_consumer inputs but $servers servers lines to point at the local broker"
for n in 1 2; do
	sed -e "s#ssl://mqtt.example.com:8883#$broker#" \
		-e "s#^\( *client_id *= *\"[^\"]*\)-1\"#\1-$n\"#" "$work/telegraf.conf.in" >"$work/telegraf-$n.conf"
	cat >>"$work/telegraf-$n.conf" <<EOF
[[outputs.file]]
  files = ["$work/telegraf-$n.out"]
  data_format = "influx"
EOF
done
cmp -s "$work/telegraf-1.conf" "$work/telegraf-2.conf" && fail "could not give the two instances distinct client ids"

# --- 4. the box ---------------------------------------------------------------
# Its [[stream]] tables: the ```toml block starting with "# on the box".
streams=$(awk '/^```toml$/ { getline first; if (first == "# on the box") on = 1; next }
     on && /^```$/ { exit }
     on { print }' "$FLEET_MD" | sed 's/^period *= *"[^"]*"/period = "2s"/')
[ -n "$streams" ] || fail "$FLEET_MD: no '# on the box' stream block found"
mkdir -p "$work/data"
cat >"$work/karana.toml" <<EOF
[device]
id = "$DEVICE"
data_dir = "$work/data"
board = "sim"

[telemetry]
interval = "0s"

[mqtt]
broker = "$broker"
reconnect_min = "100ms"
reconnect_max = "1s"

[[sensor]]
name = "pv1_power"
driver = "sim"
waveform = "sine"
amplitude = 5000.0
noise = 20.0
resolution = 0.1
unit = "W"
interval = "1s"

# measurement "battery", field "voltage"; 1500ms puts half the readings on
# .500 s, so json_v2's timestamp_format must carry the milliseconds.
[[sensor]]
name = "battery"
driver = "sim"
field = "voltage"
waveform = "ramp"
offset = 12.0
amplitude = 2.0
resolution = 0.001
unit = "V"
interval = "1500ms"

# no unit: json_v2 leaves the empty tag out
[[sensor]]
name = "counter"
driver = "sim"
waveform = "counter"
interval = "1s"

$streams
EOF
"$work/karana-edge" check -config "$work/karana.toml" >"$work/check.out" 2>&1 ||
	fail "karana-edge check: $(cat "$work/check.out")"

# --- run ----------------------------------------------------------------------
"$work/telegraf-verify" capture -broker "$broker" -out "$work/capture.jsonl" -ready "$work/capture.ready" \
	>"$work/capture.log" 2>&1 &
cap_pid=$!
pids+=($cap_pid)
tg_pids=()
for n in 1 2; do
	"$telegraf" --config "$work/telegraf-$n.conf" >"$work/telegraf-$n.log" 2>&1 &
	tg_pids+=($!)
	pids+=($!)
done
# Telegraf logs one "Connected" per input once subscribed.
for _ in $(seq 1 100); do
	c1=$(grep -c 'Connected \[' "$work/telegraf-1.log" || true)
	c2=$(grep -c 'Connected \[' "$work/telegraf-2.log" || true)
	[ "$c1" = "$inputs" ] && [ "$c2" = "$inputs" ] && [ -e "$work/capture.ready" ] && break
	sleep 0.1
done
[ -e "$work/capture.ready" ] || fail "capture did not subscribe: $(cat "$work/capture.log")"
for n in 1 2; do
	[ "$(grep -c 'Connected \[' "$work/telegraf-$n.log" || true)" = "$inputs" ] ||
		fail "telegraf-$n did not connect all $inputs inputs: $(cat "$work/telegraf-$n.log")"
done
log "telegraf x2 and the capture subscribed; running karana-edge for ${RUN_SECS}s"
"$work/karana-edge" run -config "$work/karana.toml" >"$work/karana.log" 2>&1 &
ke_pid=$!
pids+=($ke_pid)
sleep "$RUN_SECS"
kill -TERM "$ke_pid"
wait "$ke_pid" || fail "karana-edge exited non-zero: $(tail -5 "$work/karana.log")"
sleep 2 # the offline document reaches every subscriber
# SIGTERM: Telegraf flushes what it holds, then exits.
for p in "${tg_pids[@]}"; do kill -TERM "$p"; done
for n in 1 2; do wait "${tg_pids[$((n - 1))]}" || log "telegraf-$n exited non-zero"; done
kill -TERM "$cap_pid"
wait "$cap_pid" || fail "capture: $(cat "$work/capture.log")"

# Telegraf's own errors (a parser rejecting a message) are failures too.
errs=$(grep -h ' E! ' "$work/telegraf-1.log" "$work/telegraf-2.log" || true)

# --- 5. verify ----------------------------------------------------------------
rc=0
"$work/telegraf-verify" check -capture "$work/capture.jsonl" -device "$DEVICE" \
	"$work/telegraf-1.out" "$work/telegraf-2.out" || rc=1
if [ -n "$errs" ]; then
	echo "FAIL: Telegraf logged errors:"
	echo "$errs" | sed 's/^/    /'
	rc=1
fi
if [ $rc != 0 ]; then
	KEEP=1
	fail "see above; logs and outputs in $work ($(($(date +%s) - start))s)"
fi
log "PASS: docs/fleet.md's Telegraf config against $("$telegraf" --version), $("$mosquitto" -h 2>/dev/null | head -1 | sed 's/ is an .*//') ($(($(date +%s) - start))s)"
