#!/usr/bin/env bash
# ARM builds proven under qemu-user (Debian's qemu-user-static; there is no
# binfmt_misc here, so qemu is called directly). For each binary in DIST:
#   version; check -config examples/config.toml; a ~5 s run on the sim board
#   against a local broker (Mosquitto when installed, else the embedded test
#   broker), a subscriber proving a data batch arrived, then SIGTERM and a
#   clean exit 0 within 5 s.
# armv6 runs on -cpu arm1176 (Pi Zero/1), armv7 on cortex-a7, arm64 on
# cortex-a53. Also logged, never failed on: a GOARM=7 binary dies with
# SIGILL on arm1176, which is why the 32-bit release is GOARM=6.
#
#   scripts/smoke-arm.sh [DIST]     (make smoke-arm builds DIST first)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
dist=${1:-dist}
run_secs=5

log() { echo "smoke-arm: $*"; }
fail() { echo "smoke-arm: FAIL: $*" >&2; exit 1; }

qemu_arm=$(command -v qemu-arm-static || true)
qemu_a64=$(command -v qemu-aarch64-static || true)
if [ -z "$qemu_arm" ] || [ -z "$qemu_a64" ]; then
	log "SKIPPED: qemu-arm-static/qemu-aarch64-static not found (apt-get install qemu-user-static; .ci/run does)"
	exit 0
fi
for b in armv6 armv7 arm64; do
	[ -x "$dist/karana-edge-linux-$b" ] || fail "$dist/karana-edge-linux-$b missing: run make dist"
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

log "building the host subscriber"
go build -o "$tmp/smokesub" ./internal/packaging/smokesub

mosquitto=$(command -v mosquitto || true)
[ -z "$mosquitto" ] && [ -x /usr/sbin/mosquitto ] && mosquitto=/usr/sbin/mosquitto
# SMOKE_ARM_BROKER=embedded forces the fallback (to test it).
[ "${SMOKE_ARM_BROKER:-}" = embedded ] && mosquitto=
if [ -n "$mosquitto" ]; then
	log "broker: $mosquitto"
else
	log "broker: mosquitto not installed, using the embedded test broker"
fi


wait_for() { # SECONDS COMMAND...: poll until COMMAND succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# exited PID: true once the process is gone
exited() { ! kill -0 "$1" 2>/dev/null; }

smoke() { # NAME QEMU CPU
	local name=$1 qemu=$2 cpu=$3
	local bin=$dist/karana-edge-linux-$name
	local q=("$qemu" -cpu "$cpu" "$bin")
	local dir=$tmp/$name
	mkdir -p "$dir/data"
	local t0=$SECONDS

	# Static and stamped, as make dist builds them.
	local info
	info=$(go version -m "$bin") || fail "$name: go version -m failed"
	grep -q 'CGO_ENABLED=0' <<<"$info" || fail "$name: not built with CGO_ENABLED=0 (not static)"

	local out
	out=$("${q[@]}" version) || fail "$name: version exited $?"
	case $out in
	"karana-edge dev "*) fail "$name: no version stamped (-ldflags -X main.version): $out" ;;
	"karana-edge "*linux/arm*) log "$name ($cpu): $out" ;;
	*) fail "$name: unexpected version output: $out" ;;
	esac

	"${q[@]}" check -config examples/config.toml >"$dir/check.out" 2>&1 ||
		{ cat "$dir/check.out" >&2; fail "$name: check of examples/config.toml exited non-zero"; }
	log "$name: check examples/config.toml: OK"

	local port
	port=$(free_port) || fail "no free port"
	local sub_pid broker_pid=""
	if [ -n "$mosquitto" ]; then
		printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/mosquitto.conf"
		"$mosquitto" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
		broker_pid=$!
		pids+=("$broker_pid")
		wait_for 10 listening "$port" || { cat "$dir/mosquitto.log" >&2; fail "mosquitto did not listen on $port"; }
		"$tmp/smokesub" -broker "tcp://127.0.0.1:$port" -topic "karana/smoke-$name/data/#" \
			-timeout 60s -ready "$dir/ready" >"$dir/sub.out" 2>&1 &
	else
		"$tmp/smokesub" -listen "127.0.0.1:$port" -topic "karana/smoke-$name/data/#" \
			-timeout 60s -ready "$dir/ready" >"$dir/sub.out" 2>&1 &
	fi
	sub_pid=$!
	pids+=("$sub_pid")
	wait_for 20 test -e "$dir/ready" || { cat "$dir/sub.out" >&2; fail "$name: subscriber not ready"; }

	cat >"$dir/config.toml" <<-EOF
		[device]
		id = "smoke-$name"
		data_dir = "$dir/data"
		[buffer]
		commit_interval = "200ms"
		[mqtt]
		broker = "tcp://127.0.0.1:$port"
		[[sensor]]
		name = "counter"
		driver = "sim"
		waveform = "counter"
		interval = "200ms"
		[[stream]]
		name = "raw"
		period = "1s"
		format = "json"
	EOF
	"${q[@]}" run -config "$dir/config.toml" >"$dir/run.log" 2>&1 &
	local run_pid=$!
	pids+=("$run_pid")
	sleep "$run_secs"
	exited "$run_pid" && { cat "$dir/run.log" >&2; fail "$name: run exited before SIGTERM"; }
	local t_term=$SECONDS
	kill -TERM "$run_pid"
	if ! wait_for 5 exited "$run_pid"; then
		kill -KILL "$run_pid" 2>/dev/null || true
		cat "$dir/run.log" >&2
		fail "$name: still running 5 s after SIGTERM"
	fi
	local rc=0
	wait "$run_pid" || rc=$?
	[ "$rc" = 0 ] || { cat "$dir/run.log" >&2; fail "$name: run exited $rc after SIGTERM, want 0"; }
	log "$name: run ${run_secs}s, SIGTERM, clean exit 0 within $((SECONDS - t_term + 1))s"

	local src=0
	wait_for 15 exited "$sub_pid" || true
	wait "$sub_pid" || src=$?
	if [ "$src" != 0 ]; then
		cat "$dir/sub.out" "$dir/run.log" >&2
		fail "$name: no data batch reached the broker"
	fi
	log "$name: broker got $(cat "$dir/sub.out")"
	if [ -n "$broker_pid" ]; then
		kill "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
	fi
	log "$name: OK in $((SECONDS - t0))s"
}

start=$SECONDS
smoke armv6 "$qemu_arm" arm1176
smoke armv7 "$qemu_arm" cortex-a7
smoke arm64 "$qemu_a64" cortex-a53

# Informative: why the 32-bit build is GOARM=6.
rc=0
"$qemu_arm" -cpu arm1176 "$dist/karana-edge-linux-armv7" version >"$tmp/sigill.out" 2>&1 || rc=$?
if [ "$rc" = 132 ]; then
	log "as expected, the GOARM=7 binary dies with SIGILL (exit $rc) on arm1176: ship GOARM=6 for 32-bit Pis"
else
	log "NOTE: the GOARM=7 binary on arm1176 exited $rc, not SIGILL (132): $(head -c 200 "$tmp/sigill.out")"
fi

for b in armv6 armv7 arm64 amd64; do
	f=$dist/karana-edge-linux-$b
	[ -f "$f" ] && log "size $b: $(stat -c %s "$f") bytes"
done
log "all ARM builds OK in $((SECONDS - start))s"
