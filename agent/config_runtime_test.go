package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
)

// TestConfigRejectsWhatRunCannotDo: values `check` used to accept and `run`
// then failed on (retried a bad port forever, could not create the buffer,
// put a 10 MB id in every topic, or never sampled) are config errors, at
// their key and line, so `check` exits 2 before a box is sent out.
func TestConfigRejectsWhatRunCannotDo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyPw := filepath.Join(dir, "empty-password")
	if err := os.WriteFile(emptyPw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const head = "[device]\nid = \"x\"\n"
	for _, tc := range []struct {
		name, toml, key, want string
		line                  int
	}{
		{"broker port above 65535", head + "[mqtt]\nbroker = \"tcp://10.0.0.1:99999\"\n",
			"mqtt.broker", `port 99999 in "tcp://10.0.0.1:99999" is not from 1 to 65535`, 4},
		{"broker port 0", head + "[mqtt]\nbroker = \"tls://broker.example.com:0\"\n",
			"mqtt.broker", "port 0", 4},
		{"broker without a host", head + "[mqtt]\nbroker = \"tcp://:1883\"\n",
			"mqtt.broker", `missing host in "tcp://:1883"`, 4},
		{"keepalive past MQTT's 16-bit seconds", head + "[mqtt]\nkeepalive = \"24h\"\n",
			"mqtt.keepalive", "from 1s to 18h12m15s (MQTT carries it as 16-bit seconds), got 24h0m0s", 4},
		{"connect_timeout no handshake fits in", head + "[mqtt]\nconnect_timeout = \"1ms\"\n",
			"mqtt.connect_timeout", "at least 1s", 4},
		{"client_id too long for brokers", head + "[mqtt]\nclient_id = \"" + strings.Repeat("c", 129) + "\"\n",
			"mqtt.client_id", "129 bytes; at most 128", 4},
		{"client_id with a control character", head + "[mqtt]\nclient_id = \"a\\u0000b\"\n",
			"mqtt.client_id", "control character", 4},
		{"topic_prefix with a control character", head + "[mqtt]\ntopic_prefix = \"karana/\\t{device}\"\n",
			"mqtt.topic_prefix", "control character", 4},
		{"topic_prefix under $", head + "[mqtt]\ntopic_prefix = \"$SYS/{device}\"\n",
			"mqtt.topic_prefix", "'$'", 4},
		{"data_dir is a file", "[device]\nid = \"x\"\ndata_dir = \"" + file + "\"\n",
			"device.data_dir", "is a file, not a directory", 3},
		{"data_dir below a file", "[device]\nid = \"x\"\ndata_dir = \"" + file + "/sub\"\n",
			"device.data_dir", "is a file, not a directory", 3},
		{"device id of 1 MB", "[device]\nid = \"" + strings.Repeat("a", 1<<20) + "\"\n",
			"device.id", "1048576 bytes long; at most 64", 2},
		{"device id of 65 bytes", "[device]\nid = \"" + strings.Repeat("a", 65) + "\"\n",
			"device.id", "65 bytes long; at most 64", 2},
		{"device id with a topic wildcard", "[device]\nid = \"site+1\"\n", "device.id", "invalid device id", 2},
		{"device id with a slash", "[device]\nid = \"site/1\"\n", "device.id", "invalid device id", 2},
		{"device id with a space", "[device]\nid = \"site 1\"\n", "device.id", "invalid device id", 2},
		{"device id with NUL", "[device]\nid = \"site\\u0000\"\n", "device.id", "invalid device id", 2},
		{"sensor schedule on 30 February", head + "[[sensor]]\nname = \"s\"\ndriver = \"testdrv\"\nschedule = [\"0 6 * * *\", \"0 0 30 2 *\"]\n",
			"sensor[0].schedule[1]", "never fires", 6},
		{"sensor schedule on 31 April", head + "[[sensor]]\nname = \"s\"\ndriver = \"testdrv\"\nschedule = [\"0 0 31 4 *\"]\n",
			"sensor[0].schedule[0]", "never fires", 6},
		{"link window on 31 April", head + "[mqtt]\nwindows = [\"0 0 31 4 * 1h\"]\n" + oneSensor,
			"mqtt.windows", "never fires", 4},
		{"password_file empty", head + "[mqtt]\nusername = \"u\"\npassword_file = \"" + emptyPw + "\"\n",
			"mqtt.password_file", "is empty", 5},
		{"ca_file a directory", head + "[mqtt]\nbroker = \"tls://b.example.com\"\nca_file = \"" + dir + "\"\n",
			"mqtt.ca_file", "is a directory", 5},
		{"ca_file not PEM", head + "[mqtt]\nbroker = \"tls://b.example.com\"\nca_file = \"" + file + "\"\n",
			"mqtt.ca_file", file + ": no PEM certificate found", 5},
		{"ca_file relative", head + "[mqtt]\nbroker = \"tls://b.example.com\"\nca_file = \"ca.pem\"\n",
			"mqtt.ca_file", "must be an absolute path", 5},
		{"password_file without username", head + "[mqtt]\npassword_file = \"" + emptyPw + "\"\n",
			"mqtt.password_file", "username is empty", 4},
		{"TLS file with a plain broker", head + "[mqtt]\nca_file = \"" + file + "\"\n",
			"mqtt.ca_file", `broker "tcp://127.0.0.1:1883" is not TLS`, 4},
		{"stream topic past MQTT's 64 KiB", head + "[[stream]]\nname = \"" + strings.Repeat("s", 65536) + "\"\n",
			"stream[0].name", "the stream's topic is 65550 bytes; MQTT carries at most 65535", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.toml
			if !strings.Contains(src, "[[sensor]]") {
				src += oneSensor
			}
			_, err := ParseConfig("site.toml", []byte(src))
			list, ok := config.AsErrors(err)
			if !ok || len(list) != 1 {
				t.Fatalf("got %v, want one error at %s", err, tc.key)
			}
			e := list[0]
			if e.Key != tc.key || e.Line != tc.line || !strings.Contains(e.Error(), tc.want) {
				t.Errorf("got %q (key %s, line %d), want %q at %s line %d", truncate(e.Error()), e.Key, e.Line, tc.want, tc.key, tc.line)
			}
			if len(e.Error()) > 1000 {
				t.Errorf("the message is %d bytes: it must not quote the whole value", len(e.Error()))
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestConfigAcceptsWhatRunCan: the bounds above leave valid values alone:
// a leap-day schedule, a data_dir not created yet (check on a laptop), an
// id of 64 bytes, the default ports.
func TestConfigAcceptsWhatRunCan(t *testing.T) {
	dir := t.TempDir()
	src := "[device]\nid = \"" + strings.Repeat("a", 64) + "\"\ndata_dir = \"" + filepath.Join(dir, "not", "yet") + "\"\n" +
		"[mqtt]\nbroker = \"tcp://[::1]:65535\"\nkeepalive = \"18h12m15s\"\nclient_id = \"" + strings.Repeat("c", 128) + "\"\n" +
		"windows = [\"0 0 29 2 * 1h\", \"0 0 29 2 */7 1h\"]\n" +
		"[[sensor]]\nname = \"s\"\ndriver = \"testdrv\"\nschedule = [\"0 0 29 2 *\", \"0 0 29 2 */7\", \"0 0 30 2 mon\"]\n"
	c, err := ParseConfig("ok.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	for _, b := range []string{"tcp://broker", "tls://broker", "ws://broker/mqtt", "wss://broker:443/mqtt", "mqtt://10.1.2.3:1"} {
		if _, err := ParseConfig("ok.toml", []byte("[device]\nid = \"x\"\n[mqtt]\nbroker = \""+b+"\"\n"+oneSensor)); err != nil {
			t.Errorf("broker %s: %v", b, err)
		}
	}
}

// TestConfigMQTTFilesOnTheBox: a file named in [mqtt] that does not exist
// is an error on the box (the board detected) and a warning elsewhere: a
// site's config is checked on a laptop that lacks the box's certificates.
func TestConfigMQTTFilesOnTheBox(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	src := "[device]\nid = \"x\"\n[mqtt]\nbroker = \"tls://b.example.com\"\nca_file = \"" + missing + "\"\n" + oneSensor
	c, err := ParseConfig("site.toml", []byte(src))
	if err != nil {
		t.Fatalf("off the box: %v", err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "site.toml:5:1: mqtt.ca_file: "+missing+" does not exist here") {
		t.Errorf("off the box, warnings: %q", c.Warnings)
	}
	withSystemRoot(t, map[string]string{"proc/device-tree/model": "Raspberry Pi 4 Model B Rev 1.5\x00"})
	_, err = ParseConfig("site.toml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "site.toml:5:1: mqtt.ca_file: "+missing+" does not exist") {
		t.Errorf("on the box: %v", err)
	}
}
