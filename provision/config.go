package provision

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/examples"
)

// example is examples/config.toml: the annotations init writes come from
// the same text a technician reads in the repository.
var example = examples.Config

// ConfigParams is what RenderConfig needs to know about the box.
type ConfigParams struct {
	// DeviceID goes into [device] id and is the CSR's common name.
	DeviceID string
	// Board is the detected board (boards.Detect).
	Board boards.Profile
	// IdentityDir is the identity directory as the daemon sees it (on the
	// box, not under a -root), for the mutual-TLS hints in [mqtt].
	IdentityDir string
	// SystemSensor enables a sensor of the "system" driver (the box's own
	// health) on a hardware board; false leaves it commented out and adds
	// a simulated stand-in, as a config needs at least one sensor.
	SystemSensor bool
	// Version is the karana-edge version, for the header.
	Version string
}

var (
	idLine      = regexp.MustCompile(`^#?\s*id\s*=`)
	keyFileLine = regexp.MustCompile(`^#\s*key_file\s*=`)
	tableLine   = regexp.MustCompile(`^\s*\[`)
)

// RenderConfig returns an annotated config for the box: the shipped
// example's text and comments with the device id set, the identity's paths
// in [mqtt] as hints, and sensors chosen for the board. The caller should
// validate it (agent.ParseConfig) before writing it.
func RenderConfig(p ConfigParams) ([]byte, error) {
	if !agent.ValidDeviceID(p.DeviceID) {
		return nil, fmt.Errorf("config: invalid device id %q: use ASCII letters, digits, '-', '_' and '.'", p.DeviceID)
	}
	lines := strings.Split(strings.TrimRight(example, "\n"), "\n")

	device := indexOf(lines, 0, func(l string) bool { return strings.TrimSpace(l) == "[device]" })
	firstSensor := indexOf(lines, 0, func(l string) bool { return strings.TrimSpace(l) == "[[sensor]]" })
	if device < 0 || firstSensor < 0 || firstSensor < device {
		return nil, fmt.Errorf("config: the embedded example lacks [device] or [[sensor]]: fix examples/config.toml")
	}
	// The sensor region runs from the comment block above the first
	// [[sensor]] to the comment block above the next other table.
	regionStart := commentBlockStart(lines, firstSensor)
	regionEnd := len(lines)
	for i := firstSensor + 1; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if tableLine.MatchString(l) && l != "[[sensor]]" {
			regionEnd = commentBlockStart(lines, i)
			break
		}
	}

	var out []string
	out = append(out, header(p, lines[:device])...)
	inDevice, idSet, inMQTT := false, false, false
	for i := device; i < regionStart; i++ {
		l := lines[i]
		if tableLine.MatchString(l) {
			if inDevice && !idSet {
				out = insertBeforeBlank(out, fmt.Sprintf("id = %q", p.DeviceID))
				idSet = true
			}
			name := strings.TrimSpace(l)
			inDevice, inMQTT = name == "[device]", name == "[mqtt]"
		}
		switch {
		case inDevice && !idSet && idLine.MatchString(l):
			out = append(out, fmt.Sprintf("id = %q", p.DeviceID))
			idSet = true
		case inMQTT && keyFileLine.MatchString(l):
			out = append(out, l)
			out = append(out, identityHints(p.IdentityDir)...)
		default:
			out = append(out, l)
		}
	}
	if !idSet {
		return nil, fmt.Errorf("config: could not place [device] id in the embedded example")
	}
	out = append(out, sensorSection(p)...)
	out = append(out, "")
	out = append(out, lines[regionEnd:]...)
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

// header replaces the example's "copy this file" header with one that says
// where this file came from, keeping the example's general paragraphs (how
// defaults, durations and sizes read).
func header(p ConfigParams, exampleHeader []string) []string {
	out := []string{
		"# karana-edge configuration for this box, written by `karana-edge init`" + versionSuffix(p.Version) + ".",
		"#",
		fmt.Sprintf("# Board: %s, profile %q.", oneLine(p.Board.Model), p.Board.Name),
		"# Device id: " + p.DeviceID + ", also the common name of the identity's CSR",
		"# (" + filepath.Join(p.IdentityDir, CSRFile) + ").",
		"#",
		"# Check it after every edit with",
		"#",
		"#     karana-edge check",
		"#",
		"# which prints every mistake as file:line:col: key: message, then the",
		"# effective configuration with all defaults filled in.",
	}
	for _, para := range paragraphs(exampleHeader) {
		text := strings.Join(para, "\n")
		if strings.Contains(text, "karana-edge check") || strings.Contains(text, "Copy to") ||
			strings.Contains(text, "which prints") || strings.Contains(strings.ToLower(text), "example configuration") {
			continue
		}
		out = append(out, "#")
		out = append(out, para...)
	}
	return append(out, "")
}

func versionSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " " + oneLine(v)
}

// oneLine keeps a firmware string from breaking out of its comment line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// paragraphs splits comment lines into paragraphs at lines that are just
// "#" (or blank).
func paragraphs(lines []string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range lines {
		if t := strings.TrimSpace(l); t == "#" || t == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func identityHints(dir string) []string {
	return []string{
		"# This box's identity, made by `karana-edge init`: the broker's CA signs",
		"# " + filepath.Join(dir, CSRFile) + "; put the certificate it returns at",
		"# " + filepath.Join(dir, CertFile) + " and uncomment these two lines.",
		"# The key never leaves the box.",
		fmt.Sprintf("# cert_file = %q", filepath.Join(dir, CertFile)),
		fmt.Sprintf("# key_file = %q", filepath.Join(dir, KeyFile)),
	}
}

// indexOf returns the first index >= from whose line satisfies f, or -1.
func indexOf(lines []string, from int, f func(string) bool) int {
	for i := from; i < len(lines); i++ {
		if f(lines[i]) {
			return i
		}
	}
	return -1
}

// commentBlockStart walks back from line i over the comment lines directly
// above it.
func commentBlockStart(lines []string, i int) int {
	for i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
		i--
	}
	return i
}

// insertBeforeBlank appends line before the trailing blank lines of out.
func insertBeforeBlank(out []string, line string) []string {
	n := len(out)
	for n > 0 && strings.TrimSpace(out[n-1]) == "" {
		n--
	}
	return append(out[:n], append([]string{line}, out[n:]...)...)
}
