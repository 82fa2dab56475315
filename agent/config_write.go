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
	// the tables first, then the arrays of tables, each in Config's order
	for _, s := range configSchema.Sections {
		if configSchema.IsList(s) {
			continue
		}
		fmt.Fprintf(bw, "\n[%s]\n", s)
		if err := config.WriteKeys(bw, configSchema.Section(c, s)); err != nil {
			return fmt.Errorf("config: [%s]: %w", s, err)
		}
	}
	for _, s := range configSchema.Sections {
		if configSchema.IsList(s) {
			if err := listSections[s].write(bw, c); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}
