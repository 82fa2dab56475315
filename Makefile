# karana-edge — the two set-up commands are `make demo` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The build date is the floor below which a reading's date is implausible
# (a box without an RTC boots in the past).
BUILD_DATE ?= $(shell date -u +%F)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) \
	-X github.com/karana-energy/karana-edge/clock.buildDate=$(BUILD_DATE)
PKG     := ./cmd/karana-edge
# scripts/gcflags says which packages are built without inlining, and why.
GCFLAGS := $(shell sed -e '/^\#/d' -e '/^$$/d' -e 's/^/-gcflags=/' scripts/gcflags)

.PHONY: all build demo test bench bench-footprint bench-packages fleet telegraf-check dist deb smoke-arm vet fmt clean test-arm

all: build

build:
	$(GO) build -trimpath $(GCFLAGS) -ldflags '$(LDFLAGS)' -o bin/karana-edge $(PKG)

# A simulated box against an MQTT broker embedded in the demo program (never
# in the device binary), printing what the backend receives; it cuts the link
# once so you can watch the backlog drain.
demo:
	$(GO) run ./cmd/karana-demo

# go vet plus every test under the race detector, integration tests included
# (the Mosquitto interop test runs when mosquitto is installed; .ci/run installs it).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

# The board and driver tests as 32-bit ARM on an ARM1176 (Pi Zero W) under
# qemu-user: catches GOARM=7 instructions (SIGILL on a Zero) and unaligned
# 64-bit atomics. Needs qemu-arm-static (Debian: qemu-user-static); no
# binfmt_misc, so go test runs the binaries through -exec.
ARM_TEST_PKGS := ./boards/... ./sensors/... ./config/... ./reading/... ./modem/... ./linkwatch/...
test-arm:
	GOARCH=arm GOARM=6 $(GO) test -count=1 -timeout 5m -exec 'qemu-arm-static -cpu arm1176' $(ARM_TEST_PKGS)

# The performance suite as one markdown table (min/median/max over
# BENCH_COUNT runs, judged against the targets): the real daemon's
# steady-state RSS and CPU, its disk writes per commit and per day, the idle
# no-write proof, buffer ingest and page writes, backlog drain to Mosquitto,
# wire bytes per format, sampling lateness and stripped binary sizes. See
# FOOTPRINT.md; it takes ~35 minutes. bench-packages runs every package
# benchmark once, raw.
BENCH_COUNT ?= 3
bench:
	scripts/footprint.sh $(BENCH_COUNT)
bench-footprint: bench
bench-packages:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./buffer/ ./uplink/... ./sensors/...

# The fleet harness (tools/fleet, never part of the device binary): 1,000
# simulated boxes, each a real agent with its own buffer, against one
# broker; a 10-minute broker outage; prints messages/s, readings/s, the
# reconnect histogram and the drain time. FLEET_FLAGS="-broker tcp://host:1883"
# runs it against Mosquitto (see docs/fleet.md).
FLEET_FLAGS ?=
fleet:
	$(GO) run ./tools/fleet $(FLEET_FLAGS)

# docs/fleet.md's Telegraf config run for real: a Telegraf built with only
# the plugins it uses (cached outside the repo), Mosquitto, and the daemon
# on the sim board; every metric is compared with what the box published.
# Manual: the first Telegraf build takes a minute or more.
telegraf-check:
	scripts/telegraf-check.sh

# Static (CGO_ENABLED=0), stripped (-s -w) release binaries with the version
# stamped in. GOARM=6 is the 32-bit build: it runs on every 32-bit Pi (a
# GOARM=7 binary dies with SIGILL on the ARM1176 of a Zero/Zero W/Pi 1), and
# armv7 is there for boards that want it; arm64 for Pi 3/4/5 with a 64-bit OS.
DIST_TARGETS := linux/arm/6/armv6 linux/arm/7/armv7 linux/arm64//arm64 linux/amd64//amd64
dist:
	mkdir -p dist
	@set -e; for t in $(DIST_TARGETS); do \
	  os=$${t%%/*}; r=$${t#*/}; arch=$${r%%/*}; r=$${r#*/}; arm=$${r%%/*}; name=$${r#*/}; \
	  echo "CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm go build -> dist/karana-edge-$$os-$$name"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath $(GCFLAGS) -ldflags '$(LDFLAGS)' -o dist/karana-edge-$$os-$$name $(PKG); \
	done
	ls -l dist/karana-edge-*

# Debian packages (armhf carries the armv6 binary, which runs on Raspberry Pi
# OS and Debian armhf alike) built with dpkg-deb by scripts/build-deb.sh.
deb: dist
	VERSION='$(VERSION)' scripts/build-deb.sh armhf dist/karana-edge-linux-armv6 dist
	VERSION='$(VERSION)' scripts/build-deb.sh arm64 dist/karana-edge-linux-arm64 dist
	VERSION='$(VERSION)' scripts/build-deb.sh amd64 dist/karana-edge-linux-amd64 dist

# The ARM builds run under qemu-user: version, check, a short run on the sim
# board against a local broker (see scripts/smoke-arm.sh).
smoke-arm: dist
	scripts/smoke-arm.sh dist

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
