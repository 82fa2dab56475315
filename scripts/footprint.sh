#!/bin/sh
# The footprint suite (make bench-footprint): runs the figure benchmarks
# COUNT times each and prints one markdown table with min/median/max
# (go run ./bench). The raw `go test -bench` output is kept in $OUT.
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

$go test -run '^$' -bench 'DaemonFootprint|DiskWrites|IdleWrites' -benchtime 1x -count "$count" -timeout 90m ./cmd/karana-edge/ | tee -a "$OUT"
$go test -run '^$' -bench 'RefSiteWrites' -benchtime 3000x -count "$count" ./buffer/ | tee -a "$OUT"
$go test -run '^$' -bench 'IngestDefault' -benchtime 1x -count "$count" ./buffer/ | tee -a "$OUT"
$go test -run '^$' -bench 'BacklogDrain' -benchtime 1x -count "$count" -timeout 30m ./agent/ | tee -a "$OUT"
# 3000 scheduled reads per run (40 sensors at 20 ms): -benchtime 1x would
# take the percentiles over a handful of reads.
$go test -run '^$' -bench 'Lateness' -benchtime 3000x -count "$count" ./sensors/ | tee -a "$OUT"

# Bytes on the wire per format for the reference site's day, MQTT framing
# included (the one metric of four kept for the table): deterministic, so
# one run.
$go test -run '^$' -bench 'WireBytes' -benchtime 1x -count 1 ./uplink/format/ |
	awk '/^BenchmarkWireBytes/ { out = $1 " " $2; for (i = 3; i < NF; i += 2) if ($(i+1) == "ns/op" || $(i+1) == "B/reading+mqtt") out = out " " $i " " $(i+1); print out; next } { print }' |
	tee -a "$OUT"

# Stripped (-s -w), static release builds, as `make dist` makes them.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for t in arm:6:armv6 arm64::arm64; do
	arch=${t%%:*}; r=${t#*:}; arm=${r%%:*}; name=${r#*:}
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm $go build -trimpath -ldflags '-s -w' -o "$bin/$name" ./cmd/karana-edge
	size=$(stat -c %s "$bin/$name")
	echo "BenchmarkBinarySize/linux-$name 1 0 ns/op $(awk "BEGIN{printf \"%.3f\", $size/1048576}") MiB $size bytes" | tee -a "$OUT"
done

echo
echo "raw output: $OUT"
echo
$go run ./bench < "$OUT"
