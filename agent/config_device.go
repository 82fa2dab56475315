package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

// systemRoot is where DefaultDeviceID looks for /etc and /proc; tests point
// it at a fixture tree.
var systemRoot = "/"

// deviceIDSource is one file a device id can be derived from.
type deviceIDSource struct {
	path string
	// last takes the last 12 hex digits instead of the first: a Raspberry
	// Pi serial is "00000000" or "10000000" followed by the unique part, so
	// its first 12 digits would make many boxes share one id.
	last bool
}

// deviceIDSources are tried in order. The board serial comes first: it
// belongs to the hardware, while /etc/machine-id belongs to the SD card
// image, and an image cloned after its first boot gives every box the same
// machine-id, so their MQTT sessions would keep kicking each other off.
var deviceIDSources = []deviceIDSource{
	{path: "proc/device-tree/serial-number", last: true},
	{path: "sys/firmware/devicetree/base/serial-number", last: true},
	{path: "etc/machine-id"},
}

// DefaultDeviceID derives "karana-" plus 12 hex digits from the board serial
// (Raspberry Pi device tree) or, failing that, /etc/machine-id, under root
// ("/" on a box).
func DefaultDeviceID(root string) (string, error) {
	for _, src := range deviceIDSources {
		data, err := os.ReadFile(filepath.Join(root, src.path))
		if err != nil {
			continue
		}
		hex := hexDigits(string(data))
		if len(hex) < 8 || strings.Trim(hex, "0") == "" {
			continue // too short to tell boxes apart, or unset
		}
		if len(hex) > 12 {
			if src.last {
				hex = hex[len(hex)-12:]
			} else {
				hex = hex[:12]
			}
		}
		return "karana-" + hex, nil
	}
	var names []string
	for _, src := range deviceIDSources {
		names = append(names, "/"+src.path)
	}
	return "", fmt.Errorf("cannot be derived: none of %s holds a usable id (root %s)", strings.Join(names, ", "), root)
}

// hexDigits keeps the hex digits of s, lower-cased; the device tree pads its
// strings with a NUL.
func hexDigits(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// DefaultBoard is [device] board's default: detect the board.
const DefaultBoard = "auto"

// validateBoard checks [device] board names a profile.
func validateBoard(name string, errs *config.FieldErrors) {
	if name == DefaultBoard {
		return
	}
	if _, ok := boards.Lookup(name); ok {
		return
	}
	known := append([]string{DefaultBoard}, boards.Names()...)
	hint := ""
	if s := config.Suggest(name, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	errs.Add("board", "unknown board %q%s: use one of %s", name, hint, strings.Join(known, ", "))
}

// resolveBoard returns the profile for [device] board: the one detected
// under root for "auto", a zero Profile for an unknown name (an error
// already).
func resolveBoard(name, root string) boards.Profile {
	if name == DefaultBoard {
		return boards.Detect(root)
	}
	p, _ := boards.Lookup(name)
	return p
}

// checkBoard checks every sensor's bus and pins against the board, at the
// sensor's bus or pin key, and warns about a serial port that is the login
// console (from systemRoot's /proc/cmdline). It never touches hardware.
func (c *Config) checkBoard(doc *config.Doc) {
	if c.Board.Name == "" {
		return
	}
	uses := make([]boards.Use, len(c.Sensors))
	for i, s := range c.Sensors {
		uses[i] = boards.Use{Sensor: s.Name, Driver: s.Driver, Disabled: s.Disabled}
		if bu, ok := s.Options.(sensors.BusUser); ok {
			uses[i].Bus = bu.BusName()
		}
		if pu, ok := s.Options.(sensors.PinUser); ok {
			uses[i].Pins = pu.PinNames()
		}
		if sp, ok := s.Options.(sensors.SerialPortUser); ok {
			uses[i].Port = sp.SerialPort()
		}
	}
	findings := append(c.Board.Check(uses), c.Board.CheckSerial(systemRoot, uses)...)
	for _, f := range findings {
		table := config.IndexKey("sensor", f.Use)
		key := f.Key
		// A driver with several pins may take them as a pins array.
		if key == "pin" && !doc.Keys().Has(table+".pin") && doc.Keys().Has(table+".pins") {
			key = config.IndexKey("pins", f.Item)
		}
		if f.Warning {
			doc.Warnf(table+"."+key, "%s", f.Msg)
		} else {
			// Through Fail, so a key whose value did not decode is not
			// blamed twice.
			doc.Fail(table, config.Errorf(key, "%s", f.Msg))
		}
	}
}
