// Package examples holds the annotated example configuration, embedded so
// that `karana-edge init` writes the very text a technician reads here.
package examples

import _ "embed"

// Config is examples/config.toml.
//
//go:embed config.toml
var Config string
