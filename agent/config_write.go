package agent

import (
	"bufio"
	"fmt"
	"io"

	"github.com/karana-energy/karana-edge/config"
)

// WriteTOML writes the effective config, every default filled in, as TOML
// that loads back to an equal Config: what `karana-edge check` prints.
// A [[sensor]] table lists the common keys, then the driver's options; a
// [[stream]] its own keys, then the format's.
// Secrets are never stored in the config (the MQTT password lives in
// password_file), so nothing needs hiding.
func (c *Config) WriteTOML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	src := c.File
	if src == "" {
		src = "(no file)"
	}
	fmt.Fprintf(bw, "# Effective configuration of %s, defaults filled in.\n", src)
	sections := []struct {
		name string
		v    any
	}{
		{"device", &c.Device},
		{"log", &c.Log},
		{"buffer", &c.Buffer},
		{"mqtt", &c.MQTT},
		{"remote", &c.Remote},
		{"telemetry", &c.Telemetry},
	}
	for _, s := range sections {
		fmt.Fprintf(bw, "\n[%s]\n", s.name)
		if err := config.WriteKeys(bw, s.v); err != nil {
			return fmt.Errorf("config: [%s]: %w", s.name, err)
		}
	}
	for i := range c.Sensors {
		s := &c.Sensors[i]
		bw.WriteString("\n[[sensor]]\n")
		if err := config.WriteKeys(bw, s, s.Options); err != nil {
			return fmt.Errorf("config: sensor %q: %w", s.Name, err)
		}
	}
	for i := range c.Streams {
		bw.WriteString("\n[[stream]]\n")
		if err := config.WriteKeys(bw, &c.Streams[i], c.Streams[i].Options); err != nil {
			return fmt.Errorf("config: stream %q: %w", c.Streams[i].Name, err)
		}
	}
	return bw.Flush()
}
