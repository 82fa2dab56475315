package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/update"

	_ "github.com/karana-energy/karana-edge/sensors/all"
	_ "github.com/karana-energy/karana-edge/uplink/format"
)

// Exit codes: 2 means the configuration (or the command line) is wrong, so
// a provisioning script can tell it from a runtime failure.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

const usage = `karana-edge: sensor sampling, buffering and MQTT uplink for Karana boxes

Usage:
  karana-edge run     [-config FILE]          run the daemon
  karana-edge check   [-config FILE]          validate and print the effective config (exit 2 on error)
  karana-edge read    [-config FILE] SENSOR…  read sensors once: values, units, time taken; nothing is buffered
  karana-edge scan    [-bus NAME]             scan an I2C bus (default "1") and name the chips likely at each address
  karana-edge board   [-config FILE]          the board: model, serial, buses present, header map, what to enable
  karana-edge modbus scan -port DEV [-baud 9600] [-units 1-247] | -url tcp://HOST:502   Modbus units that answer, and what they probably are
  karana-edge buffer stats  [-config FILE] [-json]
  karana-edge buffer export [-config FILE] [-format jsonl|csv] [-from SEQ] [-to SEQ]
  karana-edge decode  [-batch] [FILE]         a packed payload (gzip/zstd or not) back to JSON lines; stdin without FILE
  karana-edge init    [-root DIR] [-config FILE] [-id ID]  first run: config for the detected board, device key + CSR
  karana-edge sign    -key FILE DOC | -genkey FILE  sign a remote config document (operators' side)
  karana-edge passwd  [-config FILE] [-file PATH]  the technician's page password (bcrypt hash to [http] password_file)
  karana-edge release -key FILE -version V [-chunk N] [-base OLD]... BINARY  a signed self-update (operators' side)
  karana-edge version

The config file is -config, else $KARANA_EDGE_CONFIG, else /etc/karana-edge/config.toml.
`

func runCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "run":
		return cmdRun(rest, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "read":
		return cmdRead(rest, stdout, stderr)
	case "scan":
		return cmdScan(rest, stdout, stderr)
	case "board":
		return cmdBoard(rest, stdout, stderr)
	case "modbus":
		return cmdModbus(rest, stdout, stderr)
	case "init":
		return cmdInit(rest, stdout, stderr)
	case "buffer":
		return cmdBuffer(rest, stdout, stderr)
	case "decode":
		return cmdDecode(rest, os.Stdin, stdout, stderr)
	case "sign":
		return cmdSign(rest, os.Stdin, stdout, stderr)
	case "passwd":
		return cmdPasswd(rest, os.Stdin, stdout, stderr)
	case "release":
		return cmdRelease(rest, stdout, stderr)
	case "update-guard":
		return cmdUpdateGuard(rest, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "karana-edge %s (commit %s) %s %s/%s\n", versionString(), commitString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		fmt.Fprint(stdout, updateVersionLine())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "karana-edge: unknown command %q\n\n%s", verb, usage)
		return exitConfig
	}
}

func versionString() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

func commitString() string {
	if commit != "unknown" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
	}
	return commit
}

// flags returns a FlagSet with the common -config flag.
func flags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("karana-edge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "config file (default $KARANA_EDGE_CONFIG or /etc/karana-edge/config.toml)")
	return fs, cfg
}

// load reads the config and prints its errors one per line, file:line:col first.
func load(flagValue string, stderr io.Writer) (*agent.Config, bool) {
	path := agent.ConfigPath(flagValue)
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return nil, false
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return cfg, true
}

func newLogger(level string, w io.Writer) *slog.Logger {
	return agent.NewLogger(agent.LogConfig{Level: level, Format: "text"}, w)
}

func cmdRun(args []string, stderr io.Writer) int {
	fs, cfgPath := flags("run", stderr)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	local, ok := load(*cfgPath, stderr)
	if !ok {
		return exitConfig
	}
	launch(local, stderr)
	// The local file is valid; the effective config adds the persisted
	// remote overlay (left out, with a log line, if it no longer fits).
	cfg, err := agent.LoadEffective(agent.ConfigPath(*cfgPath), newLogger("info", stderr))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	cfg = testAdjust(cfg)
	log := agent.NewLogger(cfg.Log, stderr)
	slog.SetDefault(log)

	a, err := agent.New(cfg, agent.Info{Version: versionString(), Commit: commitString()}, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitFailure
	}
	// SIGTERM is systemd's stop, SIGINT a technician's Ctrl-C: both mean a
	// clean shutdown that commits and publishes what it can.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// SIGHUP re-reads the file (systemctl reload): a bad file is logged
	// with its positions and the running config kept; nothing buffered is
	// touched either way.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reloading", "config", cfg.File)
			if err := a.Reload(); err != nil {
				agent.LogConfigError(log, "reload rejected; the running config is kept", err)
			}
		}
	}()
	if err := a.Run(ctx); err != nil {
		log.Error("stopped with error", "err", err)
		return exitFailure
	}
	if a.ExecUpdate() && ctx.Err() == nil { // not when systemd is stopping us
		log.Error("update installed but not started; systemd's restart will", "err", update.Reexec(os.Args))
		return exitFailure
	}
	return exitOK
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs, cfgPath := flags("check", stderr)
	series := fs.String("series", "", "also show which streams take this series")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	cfg, ok := load(*cfgPath, stderr)
	if !ok {
		return exitConfig
	}
	fmt.Fprintf(stdout, "# %s: OK — effective configuration with defaults filled in\n", cfg.File)
	fmt.Fprintln(stdout, boardLine(cfg))
	if cfg.Link.Enabled() {
		for _, l := range cfg.Link.Explain() {
			fmt.Fprintln(stdout, "# "+l)
		}
	}
	if err := cfg.WriteTOML(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	if *series != "" {
		fmt.Fprintf(stdout, "\n# series %s\n", *series)
		for _, line := range cfg.StreamsFor(*series) {
			fmt.Fprintln(stdout, "#  ", line)
		}
	}
	return exitOK
}

func cmdBuffer(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "karana-edge buffer: want stats or export\n\n"+usage)
		return exitConfig
	}
	switch args[0] {
	case "stats":
		fs, cfgPath := flags("buffer stats", stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[1:]); err != nil {
			return exitConfig
		}
		cfg, ok := load(*cfgPath, stderr)
		if !ok {
			return exitConfig
		}
		st, err := agent.BufferStats(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "buffer stats:", err)
			return exitFailure
		}
		if *asJSON {
			writeJSON(stdout, st)
		} else {
			st.WriteText(stdout)
		}
		return exitOK
	case "export":
		fs, cfgPath := flags("buffer export", stderr)
		format := fs.String("format", "jsonl", "jsonl or csv")
		from := fs.Uint64("from", 0, "first seq (inclusive)")
		to := fs.Uint64("to", 0, "last seq (inclusive; 0 = newest)")
		if err := fs.Parse(args[1:]); err != nil {
			return exitConfig
		}
		if *format != "jsonl" && *format != "csv" {
			fmt.Fprintf(stderr, "buffer export: -format must be jsonl or csv, got %q\n", *format)
			return exitConfig
		}
		cfg, ok := load(*cfgPath, stderr)
		if !ok {
			return exitConfig
		}
		if err := agent.BufferExport(cfg, stdout, *format, *from, *to); err != nil {
			fmt.Fprintln(stderr, "buffer export:", err)
			return exitFailure
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "karana-edge buffer: unknown subcommand %q (want stats or export)\n", args[0])
		return exitConfig
	}
}
