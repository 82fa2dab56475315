package vedirect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// kind is how a label's value is written.
type kind uint8

const (
	decimal kind = iota // a signed decimal integer, scaled
	hexCode             // "0x…", a code or bit field (OR)
	onOff               // "ON" / "OFF" → 1 / 0
)

// label is one field of the document's table that becomes a series.
type label struct {
	// div divides the device's integer into the stored unit: a correctly
	// rounded quotient, so 12810 mV is exactly the 12.81 V one would type.
	div  float64
	unit string
	kind kind
	// infinite is a value that means "no estimate" (TTG -1): missing.
	infinite string
}

// labels are the numeric fields of "VE.Direct Protocol" (3.3x), section
// "Text-mode", with the unit the device sends converted to the one stored:
// mV → V, mA → A, mAh → Ah, ‰ → %, 0.01 kWh → kWh. Which product sends
// which labels is in doc.go.
var labels = map[string]label{
	"V": {div: 1000, unit: "V"}, "V2": {div: 1000, unit: "V"}, "V3": {div: 1000, unit: "V"},
	"VS": {div: 1000, unit: "V"}, "VM": {div: 1000, unit: "V"}, "VPV": {div: 1000, unit: "V"},
	"DM": {div: 10, unit: "%"},
	"I":  {div: 1000, unit: "A"}, "I2": {div: 1000, unit: "A"}, "I3": {div: 1000, unit: "A"},
	"IL":  {div: 1000, unit: "A"},
	"PPV": {div: 1, unit: "W"}, "P": {div: 1, unit: "W"},
	"CE":  {div: 1000, unit: "Ah"},
	"SOC": {div: 10, unit: "%"},
	"TTG": {div: 1, unit: "min", infinite: "-1"},
	"T":   {div: 1, unit: "°C"},
	"H1":  {div: 1000, unit: "Ah"}, "H2": {div: 1000, unit: "Ah"}, "H3": {div: 1000, unit: "Ah"},
	"H4": {div: 1}, "H5": {div: 1}, "H6": {div: 1000, unit: "Ah"},
	"H7": {div: 1000, unit: "V"}, "H8": {div: 1000, unit: "V"}, "H9": {div: 1, unit: "s"},
	"H10": {div: 1}, "H11": {div: 1}, "H12": {div: 1}, "H13": {div: 1}, "H14": {div: 1},
	"H15": {div: 1000, unit: "V"}, "H16": {div: 1000, unit: "V"},
	"H17": {div: 100, unit: "kWh"}, "H18": {div: 100, unit: "kWh"},
	"H19": {div: 100, unit: "kWh"}, "H20": {div: 100, unit: "kWh"}, "H21": {div: 1, unit: "W"},
	"H22": {div: 100, unit: "kWh"}, "H23": {div: 1, unit: "W"},
	"AC_OUT_V": {div: 100, unit: "V"}, "AC_OUT_I": {div: 10, unit: "A"}, "AC_OUT_S": {div: 1, unit: "VA"},
	// Codes, stored as numbers; their meanings are in doc.go and the README.
	"CS": {div: 1}, "ERR": {div: 1}, "MPPT": {div: 1}, "MODE": {div: 1},
	"AR": {div: 1}, "WARN": {div: 1}, "MON": {div: 1}, "HSDS": {div: 1}, // HSDS: day sequence number 0..364
	"OR":   {div: 1, kind: hexCode},
	"LOAD": {kind: onOff}, "Alarm": {kind: onOff}, "Relay": {kind: onOff},
}

// BadBlocks is the extra field counting the blocks dropped (bad checksum
// or malformed) since the driver started reading the port.
const BadBlocks = "bad_blocks"

// KnownLabels lists the labels that can become series, sorted.
func KnownLabels() []string {
	out := make([]string, 0, len(labels))
	for l := range labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// notAvailable is how a device says a value is unknown, e.g. a BMV's SOC
// before its first synchronisation: "---".
func notAvailable(v string) bool {
	return v == "" || strings.Trim(v, "-") == ""
}

// convert returns the value of one field in its stored unit; ok is false
// when the device said it has none ("---", TTG -1). An error is a value that
// the document's format does not allow.
func convert(name string, l label, raw string) (v float64, ok bool, err error) {
	raw = strings.TrimSpace(raw)
	if notAvailable(raw) || (l.infinite != "" && raw == l.infinite) {
		return 0, false, nil
	}
	switch l.kind {
	case onOff:
		switch strings.ToUpper(raw) {
		case "ON":
			return 1, true, nil
		case "OFF":
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("field %s: %q is neither ON nor OFF", name, raw)
	case hexCode:
		h, found := strings.CutPrefix(strings.ToLower(raw), "0x")
		n, perr := strconv.ParseUint(h, 16, 32)
		if !found || perr != nil {
			return 0, false, fmt.Errorf("field %s: %q is not a 0x… hex number", name, raw)
		}
		return float64(n), true, nil
	}
	n, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil {
		return 0, false, fmt.Errorf("field %s: %q is not a decimal integer", name, raw)
	}
	if l.div > 1 {
		return float64(n) / l.div, true, nil
	}
	return float64(n), true, nil
}
