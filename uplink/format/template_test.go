package format

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// goldenTemplate uses every documented field and function.
const goldenTemplate = `{{.Device}}/{{.Stream}} {{.FirstSeq}}..{{.LastSeq}} dropped={{.Dropped}} n={{len .Readings}} site={{.Tags.site}} tags={{json .Tags}}
{{range .Readings}}{{.Seq}} {{sensor .Name}} {{field .Name}} {{json .Name}} {{rfc3339ms .Time}} {{unixms .Time}} {{unixns .Time}} {{.Time.Unix}} {{json .Value}} {{.Value}} {{json .Unit}} {{.Flags}}
{{end}}`

func TestTemplateGolden(t *testing.T) {
	b := taggedBatch()
	f, err := Configure("template", &TemplateOptions{Template: goldenTemplate}, b.Tags)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "template", "tagged.golden", got)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 1+len(b.Readings) {
		t.Fatalf("%d lines:\n%s", len(lines), got)
	}
	if want := `site-042/raw 101..106 dropped=2 n=5 site=kisumu-3 tags={"customer":"acme","site":"kisumu-3"}`; lines[0] != want {
		t.Errorf("header line\n got %s\nwant %s", lines[0], want)
	}
	// the json function writes what a JSON parser reads back
	for i, r := range b.Readings {
		fields := strings.Fields(lines[i+1])
		var name, unit string
		var v float64
		if json.Unmarshal([]byte(fields[3]), &name) != nil || json.Unmarshal([]byte(fields[8]), &v) != nil ||
			json.Unmarshal([]byte(fields[10]), &unit) != nil || name != r.Name || v != r.Value || unit != r.Unit {
			t.Errorf("line %d %q does not give back %+v", i+1, lines[i+1], r)
		}
	}
}

func TestTemplateConfigureErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts string
		tags map[string]string
		key  string
		msg  string
	}{
		{"none", ``, nil, KeyTemplate, "needs a template"},
		{"syntax", `template = "{{range .Readings}}"`, nil, KeyTemplate, "unexpected EOF"},
		{"unknown function", `template = "{{nosuch .Device}}"`, nil, KeyTemplate, `function "nosuch" not defined`},
		{"misspelt field", `template = "{{range .Readings}}{{.Vaule}}{{end}}"`, nil, KeyTemplate, "can't evaluate field Vaule"},
		{"missing tag", `template = "{{.Tags.site}}"`, map[string]string{"customer": "acme"}, KeyTemplate, `map has no entry for key "site"`},
		{"command too", "template = \"x\"\ncommand = [\"cat\"]", nil, KeyCommand, "does not use"},
	} {
		_, err := configureTOML("template", tc.opts, tc.tags)
		var fe config.FieldErrors
		if !errors.As(err, &fe) || fe[0].Key != tc.key || !strings.Contains(fe[0].Msg, tc.msg) {
			t.Errorf("%s: got %v, want an error on %s containing %q", tc.name, err, tc.key, tc.msg)
		}
	}
}

func TestTemplateFormatErrorNamesStream(t *testing.T) {
	// passes on the two-reading sample, fails on a larger batch
	f, err := Configure("template", &TemplateOptions{Template: `{{if gt (len .Readings) 2}}{{index .Readings 99}}{{end}}ok`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := goldenBatch()
	_, err = f.Format(b)
	if err == nil || !strings.Contains(err.Error(), "stream raw") || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("got %v, want an index error naming stream raw", err)
	}
	b.Readings = b.Readings[:1]
	if out, err := f.Format(b); err != nil || string(out) != "ok" {
		t.Errorf("got %q, %v", out, err)
	}
	// without tags, .Tags.x is a missing key, not "<no value>"
	g, err := Configure("template", &TemplateOptions{Template: `{{if .Tags}}{{.Tags.x}}{{end}}none`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := g.Format(&Batch{Stream: "s", Readings: []reading.Reading{{Time: time.Unix(0, 0)}}}); err != nil || string(out) != "none" {
		t.Errorf("untagged: %q, %v", out, err)
	}
	if _, err := (Template{}).Format(b); err == nil {
		t.Error("the unconfigured registry instance formats")
	}
}
