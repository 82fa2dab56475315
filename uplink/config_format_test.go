package uplink

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// loadStreams decodes the [[stream]] tables of src as the agent does and
// returns them with every error message (file:line:col: key: msg).
func loadStreams(t *testing.T, src string) ([]StreamConfig, []string) {
	t.Helper()
	doc, root, err := config.Parse("s.toml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out []StreamConfig
	for _, tbl := range root.Tables("stream") {
		out = append(out, DecodeStream(tbl))
	}
	var msgs []string
	if err := doc.Err(); err != nil {
		msgs = strings.Split(err.Error(), "\n")
	}
	return out, msgs
}

func TestStreamFormatKeys(t *testing.T) {
	scs, errs := loadStreams(t, `
[[stream]]
name = "influx"
format = "influx"
compress = "zstd"
tags = { site = "kisumu-3", customer = "acme" }

[[stream]]
name = "tpl"
format = "template"
template = '''{{range .Readings}}{{.Name}} {{.Value}} {{$.Tags.site}}
{{end}}'''
tags = { site = "x" }

[[stream]]
name = "ext"
format = "exec"
command = ["/usr/local/bin/to-acme", "--site", "kisumu 3"]
exec_timeout = "30s"
compress = "gzip"

[[stream]]
name = "sheet"
format = "csv"
csv_header = false
`)
	if len(errs) > 0 {
		t.Fatalf("errors:\n%s", strings.Join(errs, "\n"))
	}
	if got := scs[0].Tags; !reflect.DeepEqual(got, map[string]string{"site": "kisumu-3", "customer": "acme"}) {
		t.Errorf("tags %v", got)
	}
	for i, want := range [][]string{{"data", "influx", "zst"}, {"data", "tpl"}, {"data", "ext", "gz"}, {"data", "sheet"}} {
		if got := scs[i].TopicLevels(); !slices.Equal(got, want) {
			t.Errorf("stream %s topic levels %v, want %v", scs[i].Name, got, want)
		}
	}
	if o, ok := scs[2].Options.(*format.ExecOptions); !ok || o.Timeout.Duration != 30*time.Second || len(o.Command) != 3 || o.Command[2] != "kisumu 3" {
		t.Errorf("exec options %+v", scs[2].Options)
	}
	if o, ok := scs[3].Options.(*format.CSVOptions); !ok || o.Header {
		t.Errorf("csv options %+v", scs[3].Options)
	}
	// the defaults set no option, so json takes them
	def := DefaultStreamConfig()
	def.Name = "raw"
	if def.Options != nil || def.Compress != "none" {
		t.Errorf("defaults set options: %+v compress %q", def.Options, def.Compress)
	}
	if err := def.Validate(); err != nil {
		t.Error(err)
	}
}

func TestStreamFormatKeyErrors(t *testing.T) {
	_, errs := loadStreams(t, `
[[stream]]
name = "a"
format = "json"
compress = "lz4"
template = "{{.Device}}"
exec_timeout = "5s"
csv_header = false
tags = { "_x" = "1", device = "d", "a.b" = "c", ok = "", site = "back\\", note = "tab\tin" }

[[stream]]
name = "b"
format = "template"
template = "{{range .Readings}}"

[[stream]]
name = "c"
format = "exec"

[[stream]]
name = "d"
format = "senml"
tags = { site = "Kisumu 3" }

[[stream]]
name = "e"
format = "template"
template = "{{.Nope}}"
tags = 5
`)
	want := []string{
		`s.toml:5:1: stream[0].compress: must be one of none, gzip, zstd; got "lz4"`,
		`s.toml:6:1: stream[0].template: format "json" does not use template`,
		`s.toml:7:1: stream[0].exec_timeout: format "json" does not use exec_timeout`,
		`s.toml:8:1: stream[0].csv_header: format "json" does not use csv_header`,
		`s.toml:9:10: stream[0].tags._x: tag key "_x" must not start with '_'`,
		`s.toml:9:22: stream[0].tags.device: tag key "device" is reserved`,
		`s.toml:9:36: stream[0].tags."a.b": invalid tag key "a.b"`,
		`s.toml:9:49: stream[0].tags.ok: empty tag value`,
		`s.toml:9:58: stream[0].tags.site: tag value "back\\" ends with a backslash`,
		`s.toml:9:75: stream[0].tags.note: tag value "tab\tin" holds a control character`,
		`s.toml:14:1: stream[1].template: template:1: unexpected EOF`,
		`s.toml:16:1: stream[2].command: format "exec" needs a command`,
		`s.toml:23:10: stream[3].tags.site: value "Kisumu 3" cannot go into a SenML base name`,
		`s.toml:28:1: stream[4].template: fails on a sample batch: template:1:2: executing "template" at <.Nope>: can't evaluate field Nope`,
		`s.toml:29:1: stream[4].tags: wrong type: got integer 5, want a table`,
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), strings.Join(errs, "\n"))
	}
	for i := range min(len(errs), len(want)) {
		if !strings.HasPrefix(errs[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, errs[i], want[i])
		}
	}
}

func TestStreamTagLimits(t *testing.T) {
	sc := DefaultStreamConfig()
	sc.Name = "raw"
	sc.Tags = map[string]string{}
	for i := range maxTags + 1 {
		sc.Tags["k"+strings.Repeat("x", i)] = "v"
	}
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "at most 32 tags") {
		t.Errorf("too many tags: %v", err)
	}
	sc.Tags = map[string]string{"site": strings.Repeat("x", maxTagValueLen+1)}
	if err := sc.Validate(); err == nil {
		t.Error("long tag value accepted")
	}
	sc.Tags = map[string]string{"site": "Kisumu 3 — ünïcode, with=equals"}
	if err := sc.Validate(); err != nil {
		t.Errorf("printable tag value refused: %v", err)
	}
	if !format.IsLocalOnly("exec") {
		t.Error("exec is not local-only")
	}
}
