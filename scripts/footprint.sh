#!/bin/sh
# The footprint suite (make bench): runs the figure benchmarks COUNT times
# each and prints one markdown table with min/median/max (go run ./bench).
# Progress goes to stderr; the raw `go test -bench` output is kept in $OUT.
#   KARANA_FOOTPRINT_SECONDS (60)  steady-state window of the real daemon
#   KARANA_DISK_SECONDS (60)       disk-write window per commit interval
#   KARANA_IDLE_SECONDS (30)       idle window (write_bytes must stay flat)
#   KARANA_DISK_DIR                a block-backed dir if TMPDIR is tmpfs
set -eu
count=${1:-3}
go=${GO:-go}
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -t karana-footprint.XXXXXX)}
: > "$OUT"
step() { echo "bench: $*" >&2; }
failed=0
# run keeps going when a benchmark fails (the table shows what ran) and
# remembers it for the exit status.
run() { "$@" >> "$OUT" 2>&1 || failed=1; }

step "the real daemon: steady state, disk writes, idle (~25 min)"
run $go test -run '^$' -bench 'DaemonFootprint|DiskWrites|IdleWrites' -benchtime 1x -count "$count" -timeout 90m ./cmd/karana-edge/
step "buffer: reference-site page writes, ingest"
run $go test -run '^$' -bench 'RefSiteWrites' -benchtime 3000x -count "$count" ./buffer/
run $go test -run '^$' -bench 'IngestDefault' -benchtime 1x -count "$count" ./buffer/
step "backlog drain to the embedded broker and Mosquitto"
run $go test -run '^$' -bench 'BacklogDrain' -benchtime 1x -count "$count" -timeout 30m ./agent/
# 3000 scheduled reads per run (40 sensors at 20 ms): -benchtime 1x would
# take the percentiles over a handful of reads.
step "sampling lateness"
run $go test -run '^$' -bench 'Lateness' -benchtime 3000x -count "$count" ./sensors/

# Bytes on the wire per format for the reference site's day, MQTT framing
# included (the one metric of four kept for the table): deterministic, so
# one run.
step "wire bytes per format"
$go test -run '^$' -bench 'WireBytes' -benchtime 1x -count 1 ./uplink/format/ |
	awk '/^BenchmarkWireBytes/ { out = $1 " " $2; for (i = 3; i < NF; i += 2) if ($(i+1) == "ns/op" || $(i+1) == "B/reading+mqtt") out = out " " $i " " $(i+1); print out; next } { print }' |
	cat >> "$OUT"

# Stripped (-s -w), static release builds with scripts/gcflags, as `make
# dist` makes them.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
step "stripped binary sizes"
for t in arm:6:armv6 arm64::arm64; do
	arch=${t%%:*}; r=${t#*:}; arm=${r%%:*}; name=${r#*:}
	# shellcheck disable=SC2046 # one word per flag, none with spaces
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm $go build -trimpath $(sed -e '/^#/d' -e '/^$/d' -e 's/^/-gcflags=/' scripts/gcflags) -ldflags '-s -w' -o "$bin/$name" ./cmd/karana-edge
	size=$(stat -c %s "$bin/$name")
	echo "BenchmarkBinarySize/linux-$name 1 0 ns/op $(awk "BEGIN{printf \"%.3f\", $size/1048576}") MiB $size bytes" >> "$OUT" 2>&1
done

if [ "$failed" != 0 ] || grep -q -- '--- FAIL' "$OUT"; then
	failed=1
	echo "bench: a benchmark failed; see $OUT" >&2
	grep -A3 -- '--- FAIL' "$OUT" >&2 || true
fi
echo "bench: raw output in $OUT" >&2
$go run ./bench < "$OUT"
exit "$failed"
