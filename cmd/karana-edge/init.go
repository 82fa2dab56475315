package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/provision"
	"github.com/karana-energy/karana-edge/sensors"
)

// cmdInit gets a new box ready: the device identity (key + CSR, reused if
// present) and, unless one exists, a config for the detected board. An
// existing config is never overwritten: init then makes sure of the
// identity for the config's device id and exits 1 saying so.
func cmdInit(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("karana-edge init", flag.ContinueOnError)
	fl.SetOutput(stderr)
	root := fl.String("root", "/", "the box's root directory: a mounted SD card image, or a temporary tree in tests")
	cfgFlag := fl.String("config", "", "config file to write, as seen on the box (default $KARANA_EDGE_CONFIG or "+agent.DefaultConfigPath+")")
	idFlag := fl.String("id", "", "device id (default: derived from the board serial or /etc/machine-id under -root)")
	if err := fl.Parse(args); err != nil {
		return exitConfig
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "karana-edge init: unexpected arguments %q\n", fl.Args())
		return exitConfig
	}
	boxPath := agent.ConfigPath(*cfgFlag)
	if !filepath.IsAbs(boxPath) {
		if *root != "/" {
			fmt.Fprintf(stderr, "karana-edge init: -config %q must be an absolute path with -root\n", boxPath)
			return exitConfig
		}
		abs, err := filepath.Abs(boxPath)
		if err != nil {
			fmt.Fprintln(stderr, "karana-edge init:", err)
			return exitFailure
		}
		boxPath = abs
	}
	hostPath := filepath.Join(*root, boxPath)
	boxIdentity := filepath.Join(filepath.Dir(boxPath), provision.IdentityDirName)
	hostIdentity := filepath.Join(*root, boxIdentity)

	owner, ok, err := provision.LookupUser(*root, provision.ServiceUser)
	if err != nil {
		fmt.Fprintln(stderr, "karana-edge init:", err)
		return exitFailure
	}
	if !ok {
		fmt.Fprintf(stdout, "note: no %q user under %s yet: the identity stays root's until scripts/install.sh or the package creates the user (they hand it over)\n", provision.ServiceUser, *root)
	}

	if _, err := os.Stat(hostPath); err == nil {
		return initExisting(*root, hostPath, hostIdentity, *idFlag, owner, stdout, stderr)
	}

	board := boards.Detect(*root)
	deviceID := *idFlag
	if deviceID == "" {
		deviceID, err = agent.DefaultDeviceID(*root)
		if err != nil {
			fmt.Fprintf(stderr, "karana-edge init: device id %v: pass -id\n", err)
			return exitFailure
		}
	}
	text, err := renderChecked(provision.ConfigParams{
		DeviceID:     deviceID,
		Board:        board,
		IdentityDir:  boxIdentity,
		SystemSensor: hasDriver("system"),
		Version:      versionString(),
	}, hostPath)
	if err != nil {
		printConfigErr(stderr, err)
		return exitFailure
	}
	// The identity first: a config naming a device that has no key would
	// be half a provisioning.
	if err := provision.EnsureConfigDir(*root, filepath.Dir(hostPath)); err != nil {
		fmt.Fprintln(stderr, "karana-edge init:", err)
		return exitFailure
	}
	id, err := provision.EnsureIdentity(hostIdentity, deviceID, owner)
	if err != nil {
		fmt.Fprintln(stderr, "karana-edge init:", err)
		return exitFailure
	}
	if err := provision.WriteConfig(*root, hostPath, text); err != nil {
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(stderr, "karana-edge init: %s appeared while init ran; not overwritten\n", hostPath)
		} else {
			fmt.Fprintln(stderr, "karana-edge init:", err)
		}
		return exitFailure
	}
	fmt.Fprintf(stdout, "board:     %s (profile %q)\n", board.Model, board.Name)
	fmt.Fprintf(stdout, "device id: %s\n", deviceID)
	fmt.Fprintf(stdout, "config:    wrote %s\n", hostPath)
	printIdentity(stdout, id)
	fmt.Fprintf(stdout, "\nNext: edit the [mqtt] broker and the sensors, check with\n  karana-edge check -config %s\nthen start it: systemctl enable --now karana-edge\n", boxPath)
	return exitOK
}

// initExisting handles a box that has a config: make sure of the identity
// for the config's device id, and say the config was left alone.
func initExisting(root, hostPath, hostIdentity, idFlag string, owner provision.Owner, stdout, stderr io.Writer) int {
	cfg, err := agent.LoadConfig(hostPath)
	if err != nil {
		printConfigErr(stderr, err)
		fmt.Fprintf(stderr, "karana-edge init: %s exists and does not load (errors above); not overwritten, no identity made: fix it or move it aside and run init again\n", hostPath)
		return exitFailure
	}
	deviceID := cfg.Device.ID
	if !explicitDeviceID(hostPath) {
		// The loader derived the id from this machine; under -root the box
		// is another one.
		if idFlag != "" {
			deviceID = idFlag
		} else if deviceID, err = agent.DefaultDeviceID(root); err != nil {
			fmt.Fprintf(stderr, "karana-edge init: device id %v: pass -id\n", err)
			return exitFailure
		}
	}
	if idFlag != "" && idFlag != deviceID {
		fmt.Fprintf(stderr, "karana-edge init: -id %q differs from the device id %q of the existing %s\n", idFlag, deviceID, hostPath)
		return exitConfig
	}
	id, err := provision.EnsureIdentity(hostIdentity, deviceID, owner)
	if err != nil {
		fmt.Fprintln(stderr, "karana-edge init:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "device id: %s (config %s)\n", deviceID, hostPath)
	printIdentity(stdout, id)
	fmt.Fprintf(stderr, "karana-edge init: %s exists; not overwritten (move it aside and run init again for a fresh config for this board)\n", hostPath)
	return exitFailure
}

// explicitDeviceID reports whether the config file sets [device] id itself.
func explicitDeviceID(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	doc, _, err := config.Parse(path, data)
	return err == nil && doc.Keys().Has("device.id")
}

// renderChecked renders the config and loads it as the daemon would, so
// init never writes a file that `check` rejects. A "system" sensor the
// driver rejects falls back to the commented-out one.
func renderChecked(p provision.ConfigParams, name string) ([]byte, error) {
	text, err := provision.RenderConfig(p)
	if err != nil {
		return nil, err
	}
	if _, err = agent.ParseConfig(name, text); err == nil {
		return text, nil
	}
	if p.SystemSensor {
		p.SystemSensor = false
		return renderChecked(p, name)
	}
	return nil, fmt.Errorf("the generated config does not load (a bug; please report it): %w", err)
}

func hasDriver(name string) bool {
	_, ok := sensors.Lookup(name)
	return ok
}

func printIdentity(w io.Writer, id *provision.Identity) {
	state := "reused"
	if id.KeyCreated {
		state = "created"
	}
	fmt.Fprintf(w, "identity:  %s %s (%s; it never leaves this box)\n", state, id.KeyPath, id.KeyType)
	fmt.Fprintf(w, "  public key sha256: %s\n", id.Fingerprint)
	fmt.Fprintf(w, "  CSR (CN=%s): %s\n", id.DeviceID, id.CSRPath)
	for _, n := range id.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "Register the box: have the broker's CA sign the CSR, put the certificate at\n  %s\nand set cert_file and key_file in [mqtt]. Check the fingerprint on the box with\n  openssl pkey -in %s -pubout -outform DER | sha256sum\n", id.CertPath, id.KeyPath)
}

func printConfigErr(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, "karana-edge init:", err)
}
