package update

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// The launcher. systemd (and the .deb) always start the packaged binary;
// before anything else, `run` asks Launch which binary this start runs:
//
//   - A binary on trial, if the package is not newer: its start count is
//     raised and written to disk first, then a guard process is started
//     and the trial binary exec'd in place (same PID, so systemd's notify
//     and watchdog see it as the service). A trial that crashes, is
//     killed, or hangs at start is started again by systemd at most
//     MaxStarts times, counted here, before any of its own code runs: a
//     binary that dies before it can log anything is still rolled back.
//   - Else the confirmed self-update (Current), if the package is not
//     newer and its file still has the SHA-256 it was installed with.
//   - Else the package itself: Launch returns.
//
// The guard is the packaged binary again (`karana-edge update-guard`), a
// child that outlives the exec: if the trial has not confirmed within the
// confirm timeout it records the rollback and stops the trial (SIGTERM,
// which commits the buffer, then SIGKILL); the restart runs the previous
// binary. The trial binary confirms itself (state.json: Trial → Current)
// once it is healthy; a binary that never does is rolled back, so the
// decision always rests with code that already ran on this box.

// Environment set by the launcher for the binary it starts.
const (
	// LaunchEnv says the binary was chosen by a launcher: "trial" or
	// "current". A binary started with it does not launch again.
	LaunchEnv = "KARANA_EDGE_LAUNCHED"
	// LauncherEnv is the launcher's own path: the daemon re-executes it
	// after installing an update, to start the trial the same way a
	// restart would.
	LauncherEnv = "KARANA_EDGE_LAUNCHER"
)

// Roles in LaunchEnv.
const (
	RoleTrial   = "trial"
	RoleCurrent = "current"
)

// LaunchOptions are what the launcher needs to know.
type LaunchOptions struct {
	DataDir        string
	Version        string   // the packaged binary's, i.e. this one's
	Args           []string // argv for the binary started (os.Args)
	ConfirmTimeout time.Duration
	MaxStarts      int
	Log            *slog.Logger
}

// Launch picks the binary this start runs and execs it; it returns (nil)
// when the packaged binary itself is to run, or after an exec that failed
// (logged, and recorded as a rollback).
func Launch(o LaunchOptions) {
	if os.Getenv(LaunchEnv) != "" {
		return
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	self, err := os.Executable()
	if err != nil {
		log.Error("update launcher: cannot find this binary's path; running it", "err", err)
		return
	}
	store := NewStore(o.DataDir)
	if _, err := os.Stat(store.Path(StateFile)); err != nil {
		return // never updated: nothing to decide, nothing written
	}
	var pick *Binary
	role := RoleCurrent
	starts := 0
	err = store.Update(func(st *State) error {
		pick, role, starts = choose(st, o, self, log)
		store.Prune(*st)
		return nil
	})
	if err != nil {
		log.Error("update launcher: state not written; running the packaged binary", "err", err)
		return
	}
	if pick == nil {
		return
	}
	if role == RoleTrial {
		if err := startGuard(self, o, starts); err != nil {
			// Without a guard a trial that hangs is only caught by
			// systemd's start timeout and the start count.
			log.Error("update launcher: guard not started", "err", err)
		}
	}
	log.Info("update launcher: starting the self-updated binary", "role", role, "version", pick.Version, "path", pick.Path, "start", starts)
	env := append(os.Environ(), LaunchEnv+"="+role, LauncherEnv+"="+self)
	err = syscall.Exec(pick.Path, append([]string{pick.Path}, o.Args[1:]...), env)
	log.Error("update launcher: exec failed; running the packaged binary", "path", pick.Path, "err", err)
	store.Update(func(st *State) error {
		reason := fmt.Sprintf("exec %s: %v", pick.Path, err)
		if role == RoleTrial && st.Trial != nil && st.Trial.SHA256 == pick.SHA256 {
			rollBack(st, reason)
		} else if st.Current != nil && st.Current.SHA256 == pick.SHA256 {
			st.Current = nil
		}
		return nil
	})
}

// choose decides under the lock; it may rewrite st (a rollback, a package
// that won).
func choose(st *State, o LaunchOptions, self string, log *slog.Logger) (*Binary, string, int) {
	if t := st.Trial; t != nil {
		switch {
		case packageWins(o.Version, self, t.Binary):
			log.Warn("update launcher: the packaged binary is not older than the one on trial; dropping the trial", "package", o.Version, "trial", t.Version)
			st.Last = &Result{Version: t.Version, SHA256: t.SHA256, Result: RolledBack, At: time.Now().UTC(), Bytes: t.Bytes,
				Reason: "superseded by the installed package " + o.Version}
			st.Trial = nil
		case t.Starts >= o.MaxStarts:
			rollBack(st, fmt.Sprintf("started %d times without confirming (crashed, killed or hung before it was healthy)", t.Starts))
			log.Warn("update launcher: trial rolled back", "version", t.Version, "reason", st.Last.Reason)
		default:
			if err := verifyFile(t.Path, t.SHA256); err != nil {
				rollBack(st, err.Error())
				log.Warn("update launcher: trial rolled back", "version", t.Version, "reason", st.Last.Reason)
				break
			}
			t.Starts++
			b := t.Binary
			return &b, RoleTrial, t.Starts
		}
	}
	if c := st.Current; c != nil {
		if packageWins(o.Version, self, *c) {
			log.Info("update launcher: the packaged binary is not older than the self-update; running the package", "package", o.Version, "update", c.Version)
			st.Current = nil
			return nil, "", 0
		}
		if err := verifyFile(c.Path, c.SHA256); err != nil {
			log.Error("update launcher: the self-updated binary is damaged; running the packaged one", "err", err)
			st.Current = nil
			return nil, "", 0
		}
		if st.CurrentStarts >= MaxCurrentStarts {
			st.Last = &Result{Version: c.Version, SHA256: c.SHA256, Result: RolledBack, At: time.Now().UTC(),
				Reason: fmt.Sprintf("started %d times in a row without producing readings; the package runs", st.CurrentStarts)}
			log.Error("update launcher: the self-updated binary keeps failing; running the packaged one", "version", c.Version, "starts", st.CurrentStarts)
			st.Current, st.CurrentStarts = nil, 0
			return nil, "", 0
		}
		st.CurrentStarts++
		b := *c
		return &b, RoleCurrent, 0
	}
	return nil, "", 0
}

// rollBack ends the trial in st with reason.
func rollBack(st *State, reason string) {
	t := st.Trial
	st.Last = &Result{Version: t.Version, SHA256: t.SHA256, Result: RolledBack, Reason: reason, At: time.Now().UTC(), Bytes: t.Bytes}
	st.Trial = nil
}

// packageWins reports whether the packaged binary at self (version pkg)
// must run instead of b: a dpkg upgrade to the same or a newer version
// wins over a self-update. A package whose version does not parse (a
// development build) wins when its file is newer than b's install.
func packageWins(pkg, self string, b Binary) bool {
	if _, err := ParseVersion(pkg); err != nil {
		fi, err := os.Stat(self)
		return err == nil && fi.ModTime().After(b.Installed)
	}
	return !Newer(b.Version, pkg)
}

// verifyFile checks path's SHA-256.
func verifyFile(path, sum string) error {
	got, err := fileSHA(path)
	if err != nil {
		return fmt.Errorf("self-updated binary: %w", err)
	}
	if got != sum {
		return fmt.Errorf("self-updated binary %s: SHA-256 %s, installed as %s (damaged on the card)", path, got, sum)
	}
	return nil
}

// GuardVerb is the hidden CLI verb that runs RunGuard.
const GuardVerb = "update-guard"

func startGuard(self string, o LaunchOptions, starts int) error {
	cmd := exec.Command(self, GuardVerb, o.DataDir, strconv.Itoa(starts), strconv.Itoa(os.Getpid()), o.ConfirmTimeout.String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), LaunchEnv+"=guard")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s %s: %w", self, GuardVerb, err)
	}
	return cmd.Process.Release()
}

// GuardOptions are RunGuard's arguments.
type GuardOptions struct {
	DataDir string
	Starts  int
	PID     int
	Timeout time.Duration
	// Grace is how long the trial has to stop after SIGTERM.
	Grace time.Duration
	Log   *slog.Logger
}

// RunGuard watches the trial of start o.Starts running as o.PID: it
// returns once the trial is confirmed, superseded or gone, and rolls it
// back (recorded, then SIGTERM, then SIGKILL) if it is still unconfirmed
// after o.Timeout.
func RunGuard(o GuardOptions) error {
	store := NewStore(o.DataDir)
	deadline := time.Now().Add(o.Timeout)
	for {
		time.Sleep(200 * time.Millisecond)
		st, err := store.Read()
		if err != nil || st.Trial == nil || st.Trial.Starts != o.Starts {
			return nil // confirmed, rolled back, or a later start's guard owns it
		}
		if syscall.Kill(o.PID, 0) != nil {
			return nil // it died: the next start counts it
		}
		if time.Now().After(deadline) {
			break
		}
	}
	rolled := false
	err := store.Update(func(st *State) error {
		if st.Trial == nil || st.Trial.Starts != o.Starts {
			return nil
		}
		rollBack(st, fmt.Sprintf("not healthy within confirm_timeout %s (uplink connected and sampler producing readings)", o.Timeout))
		rolled = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("update guard: %w", err)
	}
	if !rolled {
		return nil
	}
	if o.Log != nil {
		o.Log.Warn("update guard: trial not confirmed in time; stopping it so the previous binary runs", "pid", o.PID, "timeout", o.Timeout)
	}
	syscall.Kill(o.PID, syscall.SIGTERM)
	for end := time.Now().Add(o.Grace); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if syscall.Kill(o.PID, 0) != nil {
			return nil
		}
	}
	syscall.Kill(o.PID, syscall.SIGKILL)
	return nil
}

// Reexec replaces this process with the launcher (LauncherEnv, else this
// binary) run with args: the same start as systemd's, which picks the
// binary now on trial. It returns only on failure; systemd's restart is
// then the fallback.
func Reexec(args []string) error {
	launcher := os.Getenv(LauncherEnv)
	if launcher == "" {
		p, err := os.Executable()
		if err != nil {
			return fmt.Errorf("re-exec: %w", err)
		}
		launcher = p
	}
	var env []string
	for _, e := range os.Environ() {
		if !hasKey(e, LaunchEnv) && !hasKey(e, LauncherEnv) {
			env = append(env, e)
		}
	}
	err := syscall.Exec(launcher, append([]string{launcher}, args[1:]...), env)
	return fmt.Errorf("re-exec %s: %w", launcher, err)
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '='
}
