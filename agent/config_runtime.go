package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/config"
)

// Checks of what only the machine can tell, so that `check` rejects what
// `run` could not do there.

// onBox reports whether the config is checked on the box it runs on: the
// board was detected from a device tree, not assumed (a laptop has none)
// nor forced by name.
func (c *Config) onBox() bool {
	return c.Device.Board == DefaultBoard && c.Board.Name != boards.Sim.Name
}

// mqttFileKeys are the [mqtt] keys naming a file the uplink reads at start.
var mqttFileKeys = []string{"password_file", "ca_file", "cert_file", "key_file"}

func (c *Config) mqttFile(key string) string {
	switch key {
	case "password_file":
		return c.MQTT.PasswordFile
	case "ca_file":
		return c.MQTT.CAFile
	case "cert_file":
		return c.MQTT.CertFile
	case "key_file":
		return c.MQTT.KeyFile
	}
	return ""
}

// checkMQTTFiles checks the files [mqtt] names, which the uplink reads at
// start: a daemon that cannot read them does not start. Missing is an error
// on the box and a warning elsewhere (the box's credentials are not on the
// laptop that checks its config); a file that is there is loaded as the
// uplink would load it.
func (c *Config) checkMQTTFiles(doc *config.Doc) {
	usable := true
	for _, key := range mqttFileKeys {
		f := c.mqttFile(key)
		if f == "" {
			continue
		}
		path := "mqtt." + key
		fi, err := os.Stat(f)
		switch {
		case !filepath.IsAbs(f):
			doc.Errorf(path, "must be an absolute path (the daemon runs in /), got %q", f)
		case errors.Is(err, fs.ErrNotExist) && c.onBox():
			doc.Errorf(path, "%s does not exist", f)
		case errors.Is(err, fs.ErrNotExist):
			doc.Warnf(path, "%s does not exist here; it must on the box (check there says so)", f)
		case err != nil:
			// not readable by whoever runs check: the daemon's user may
			// read it, so nothing can be concluded here
		case fi.IsDir():
			doc.Errorf(path, "%s is a directory, not a file", f)
		default:
			continue
		}
		usable = false
	}
	if !usable || c.MQTT.Validate() != nil {
		return // the rest is said already
	}
	if err := c.MQTT.LoadFiles(); err != nil {
		key, msg := mqttFileError(err)
		doc.Errorf(key, "%s", msg)
	}
}

// mqttFileError places an error of uplink's file loading ("uplink: ca_file
// /x: no PEM certificate found") at the key it names.
func mqttFileError(err error) (key, msg string) {
	msg = strings.TrimPrefix(err.Error(), "uplink: ")
	for _, k := range mqttFileKeys {
		if rest, ok := strings.CutPrefix(msg, k); ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, ":")) {
			return "mqtt." + k, strings.TrimLeft(rest, ": ")
		}
	}
	return "mqtt", msg
}

// maxTopic is the longest topic an MQTT packet can carry.
const maxTopic = 65535

// checkTopics checks that every topic the device publishes on fits in an
// MQTT packet: the prefix with the device id, under it the stream names.
func (c *Config) checkTopics(doc *config.Doc) {
	if !ValidDeviceID(c.Device.ID) {
		return
	}
	if n := len(c.Topic("config", "result")); n > maxTopic {
		doc.Errorf("mqtt.topic_prefix", "makes topics of %d bytes; MQTT carries at most %d", n, maxTopic)
		return
	}
	for i, s := range c.Streams {
		if n := len(c.Topic(s.TopicLevels()...)); n > maxTopic {
			doc.Errorf(config.IndexKey("stream", i)+".name", "the stream's topic is %d bytes; MQTT carries at most %d", n, maxTopic)
		}
	}
}
