package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/update"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cmdRelease is the operators' side of self-update:
//
//	karana-edge release -key FILE -version V [-chunk N] [-topic ROOT] [-base OLD]... [-out DIR] BINARY
//
// It writes DIR (default release-V-<target>) with doc.json (the signed
// document), chunks/ (one file per chunk message), chunks.txt (topic and
// file of each) and publish.sh, and prints the bytes each payload costs.
func cmdRelease(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "PEM PKCS#8 ed25519 private key (karana-edge sign -genkey)")
	version := fs.String("version", "", "the binary's version, as stamped in it (-X main.version)")
	chunk := fs.Int("chunk", update.DefaultChunk, "chunk size in bytes")
	topic := fs.String("topic", "", "chunk topic root (default karana/updates/<version>/<target>)")
	out := fs.String("out", "", "output directory (default release-<version>-<target>)")
	fast := fs.Bool("fast", false, "the full payload at zstd's \"better\" level instead of its best (4-5x quicker, ~7% bigger; deltas always at best)")
	var bases multiFlag
	fs.Var(&bases, "base", "a build running in the fleet: also make a delta against it (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *keyFile == "" || *version == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: karana-edge release -key FILE -version V [-chunk N] [-topic ROOT] [-base OLD]... [-out DIR] BINARY")
		return exitConfig
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return exitConfig
	}
	key, err := remote.ParsePrivateKey(pem)
	if err != nil {
		fmt.Fprintf(stderr, "release: %s: %v\n", *keyFile, err)
		return exitConfig
	}
	bin, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return exitConfig
	}
	opts := update.ReleaseOptions{Version: *version, Topic: *topic, ChunkSize: *chunk, Fast: *fast}
	for _, b := range bases {
		old, err := os.ReadFile(b)
		if err != nil {
			fmt.Fprintln(stderr, "release: -base:", err)
			return exitConfig
		}
		opts.Bases = append(opts.Bases, old)
	}
	rel, err := update.NewRelease(bin, opts)
	if err != nil {
		fmt.Fprintf(stderr, "release: %s: %v\n", fs.Arg(0), err)
		return exitConfig
	}
	env, err := update.Sign(key, &rel.Doc)
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return exitFailure
	}
	dir := *out
	if dir == "" {
		t := rel.Doc.Target
		dir = "release-" + *version + "-" + t.GOOS + "-" + t.GOARCH + t.GOARM
	}
	if err := writeRelease(dir, rel, env); err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: %s %s, %d bytes, sha256 %s\n", dir, *version, rel.Doc.Target, rel.Doc.Size, rel.Doc.SHA256)
	for i, p := range rel.Doc.Payloads {
		var wire int64
		for j := range rel.Chunks[i] {
			wire += update.ChunkWire(p.ChunkTopic(j), len(rel.Chunks[i][j]))
		}
		what := p.Encoding
		if p.Base != "" {
			what += " against " + p.Base[:16]
		}
		fmt.Fprintf(stdout, "  %-40s %9d bytes in %4d chunks, %9d bytes on the wire\n", what, p.Size, len(p.Chunks), wire)
	}
	fmt.Fprintf(stdout, "publish: MQTT_PUB='mosquitto_pub -h BROKER ...' %s/publish.sh chunks, then %s/publish.sh doc karana/<device>...\n", dir, dir)
	return exitOK
}

// writeRelease writes the release directory.
func writeRelease(dir string, rel *update.Release, env []byte) error {
	if err := os.MkdirAll(filepath.Join(dir, "chunks"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "doc.json"), append(env, '\n'), 0o644); err != nil {
		return err
	}
	var list strings.Builder
	for i, p := range rel.Doc.Payloads {
		sub := filepath.Join("chunks", strconv.Itoa(i))
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
		for j, c := range rel.Chunks[i] {
			f := filepath.Join(sub, strconv.Itoa(j))
			if err := os.WriteFile(filepath.Join(dir, f), c, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(&list, "%s %s\n", p.ChunkTopic(j), f)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "chunks.txt"), []byte(list.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "publish.sh"), []byte(publishScript), 0o755)
}

// publishScript publishes a release directory with mosquitto_pub.
const publishScript = `#!/bin/sh
# Publishes this karana-edge release (written by karana-edge release).
#   MQTT_PUB='mosquitto_pub -h broker.example -p 8883 --cafile ca.pem -u ops -P ...'
#   ./publish.sh chunks                      # once for the fleet: every chunk, retained
#   ./publish.sh doc karana/site-042 ...     # the signed document to each box (a wave)
#   ./publish.sh clear karana/site-042 ...   # remove the retained document again
set -eu
: "${MQTT_PUB:=mosquitto_pub}"
cd "$(dirname "$0")"
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
chunks)
	while read -r topic file; do
		$MQTT_PUB -q 1 -r -t "$topic" -f "$file"
	done <chunks.txt
	;;
doc)
	for prefix in "$@"; do $MQTT_PUB -q 1 -r -t "$prefix/update/doc" -f doc.json; done
	;;
clear)
	for prefix in "$@"; do $MQTT_PUB -q 1 -r -t "$prefix/update/doc" -n; done
	;;
*)
	echo "usage: $0 chunks | doc PREFIX... | clear PREFIX..." >&2
	exit 2
	;;
esac
`

// launch runs the update launcher for `run` (package update): it returns
// to run this binary, or execs the self-updated one.
func launch(cfg *agent.Config, stderr io.Writer) {
	update.Launch(update.LaunchOptions{
		DataDir:        cfg.Device.DataDir,
		Version:        versionString(),
		Args:           os.Args,
		ConfirmTimeout: cfg.Update.ConfirmTimeout.Duration,
		MaxStarts:      cfg.Update.MaxTrialStarts,
		Log:            newLogger("info", stderr),
	})
}

// cmdUpdateGuard is the launcher's guard process (hidden verb):
// update-guard DATA_DIR STARTS PID TIMEOUT.
func cmdUpdateGuard(args []string, stderr io.Writer) int {
	if len(args) != 4 {
		fmt.Fprintln(stderr, "usage: karana-edge update-guard DATA_DIR STARTS PID TIMEOUT")
		return exitConfig
	}
	starts, err1 := strconv.Atoi(args[1])
	pid, err2 := strconv.Atoi(args[2])
	timeout, err3 := time.ParseDuration(args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		fmt.Fprintln(stderr, "update-guard: bad arguments:", args)
		return exitConfig
	}
	err := update.RunGuard(update.GuardOptions{DataDir: args[0], Starts: starts, PID: pid, Timeout: timeout,
		Grace: 10 * time.Second, Log: newLogger("info", stderr)})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	return exitOK
}

// updateVersionLine says which binary the daemon runs when a self-update
// is installed ("" otherwise).
func updateVersionLine() string {
	cfg, err := agent.LoadConfig(agent.ConfigPath(""))
	if err != nil {
		return ""
	}
	st, err := update.NewStore(cfg.Device.DataDir).Read()
	if err != nil {
		return ""
	}
	var b strings.Builder
	if st.Current != nil {
		fmt.Fprintf(&b, "self-update: %s at %s (installed %s); this binary (%s) is the package's and starts it\n",
			st.Current.Version, st.Current.Path, st.Current.Installed.Format(time.RFC3339), versionString())
	}
	if st.Trial != nil {
		fmt.Fprintf(&b, "on trial: %s at %s (started %d times)\n", st.Trial.Version, st.Trial.Path, st.Trial.Starts)
	}
	if st.Last != nil {
		fmt.Fprintf(&b, "last update: %s %s", st.Last.Version, st.Last.Result)
		if st.Last.Reason != "" {
			fmt.Fprintf(&b, " (%s)", st.Last.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}
