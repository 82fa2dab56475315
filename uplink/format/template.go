package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// Template is the "template" format: a Go text/template from the stream's
// template key, for backends with a schema of their own. The template is
// executed once per batch with the *Batch as its data:
//
//	.Device    string             the device id
//	.Stream    string             the stream name
//	.FirstSeq  uint64             first buffer seq the batch covers
//	.LastSeq   uint64             last buffer seq the batch covers
//	.Dropped   uint64             readings lost between the previous batch and this one
//	.Thinned   uint64             readings of the batch that are thinned aggregates
//	.Aggregate string             the aggregate stream's window ("15m"), or ""
//	.Tags      map[string]string  the stream's tags ({{.Tags.site}}; a missing key is an error)
//	.Readings  []reading.Reading  in seq order, each with
//	    .Seq   uint64
//	    .Name  string             series name, "battery.voltage"
//	    .Time  time.Time          UTC; these methods work: {{.Time.Unix}} (timeMethods)
//	                              Unix UnixMilli UnixNano UTC Format String Year Month
//	                              Day Hour Minute Second Nanosecond IsZero
//	    .Value float64
//	    .Unit  string
//	    .Flags uint8-based        1 = clock not synchronized when sampled, 2 = re-stamped after sync, 4 = implausible date
//
// Functions besides text/template's and, or, not, len, index, slice,
// print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery:
//
//	rfc3339ms TIME   "2026-11-21T22:00:00.100Z" (the json format's ts)
//	unixms TIME      milliseconds since 1970 (int64)
//	unixns TIME      nanoseconds since 1970 (int64)
//	json VALUE       VALUE as JSON: a quoted, escaped string, a number as the
//	                 json format writes it, an object for .Tags
//	sensor NAME      the series name up to its last dot ("battery")
//	field NAME       the rest ("voltage"; "value" for a name without a dot)
//
// For example, one JSON object per line:
//
//	{{range .Readings}}{"sensor":{{json (sensor .Name)}},"v":{{json .Value}},"t":{{unixms .Time}}}
//	{{end}}
//
// The syntax is text/template's, and so is the output, byte for byte
// (tmpldiff_test.go runs a corpus through both), but text/template itself
// is not linked: its executor calls reflect's MethodByName, and one
// reachable call makes the linker keep every exported method of every
// reachable type (1.2 MB of the armv6 binary, which must stay under
// 12 MiB). tmplexec.go runs the text/template/parse tree on this fixed
// data model instead, naming fields and the listed time methods with a
// switch; define, template, block and call are refused.
//
// The template is parsed, checked (every field name and the argument
// types it can know, in every branch: tmplcheck.go) and run once on a
// sample batch when the config loads, so a syntax error or a misspelt
// field fails `karana-edge check`.
// An error while formatting a real batch fails that batch, which is then
// retried from the stream's cursor (and logged with the stream name).
type Template struct {
	t *tmplProgram
}

// TemplateOptions are the template format's keys in a [[stream]] table.
type TemplateOptions struct {
	// Template is the text/template source. Required.
	Template string `toml:"template"`
}

// KeyTemplate is TemplateOptions.Template's key.
const KeyTemplate = "template"

func init() { RegisterOptions("template", Template{}, nil, configureTemplate) }

// ContentType implements Formatter: the template decides; this is what the
// status document shows.
func (Template) ContentType() string { return "text/plain; charset=utf-8" }

// templateJSON writes v as JSON; floats as the json format writes them, and
// strings without HTML escaping (a payload is not a web page).
func templateJSON(v any) (string, error) {
	switch x := v.(type) {
	case float64:
		return string(appendJSONFloat(nil, x)), nil
	case string:
		return string(appendJSONString(nil, x)), nil
	case map[string]string:
		return string(appendJSONTags(nil, x)), nil
	case time.Time:
		return `"` + string(appendTimeMilli(nil, x)) + `"`, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// configureTemplate parses the template and runs it on a sample batch
// with the stream's tags.
func configureTemplate(o *TemplateOptions, tags map[string]string) (Formatter, error) {
	var errs config.FieldErrors
	if o.Template == "" {
		errs.Add(KeyTemplate, "format \"template\" needs a template, e.g. template = '{{range .Readings}}{{.Name}} {{.Value}}{{\"\\n\"}}{{end}}'")
		return nil, errs
	}
	t, err := parseTemplate(o.Template)
	if err != nil {
		errs.Add(KeyTemplate, "%s", strings.TrimPrefix(err.Error(), "template: "))
		return nil, errs
	}
	// the sample run first: what it finds reads as it always has
	if err := t.execute(&bytes.Buffer{}, sampleBatch(tags)); err != nil {
		errs.Add(KeyTemplate, "fails on a sample batch: %s", strings.TrimPrefix(err.Error(), "template: "))
	} else if err := t.check(); err != nil {
		errs.Add(KeyTemplate, "%s", err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return Template{t: t}, nil
}

// sampleBatch is what Configure tries a template on.
func sampleBatch(tags map[string]string) *Batch {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 100_000_000, time.UTC)
	if tags == nil {
		tags = map[string]string{}
	}
	return &Batch{
		Device: "site-042", Stream: "sample", FirstSeq: 101, LastSeq: 102, Tags: tags,
		Readings: []reading.Reading{
			{Seq: 101, Name: "battery.voltage", Time: t0, Value: 12.625, Unit: "V"},
			{Seq: 102, Name: "ambient", Time: t0.Add(time.Second), Value: 31.4, Unit: "°C", Flags: reading.ClockUnsynced},
		},
	}
}

// Format implements Formatter.
func (f Template) Format(b *Batch) ([]byte, error) {
	if f.t == nil {
		return nil, errors.New("template: no template configured")
	}
	if b.Tags == nil {
		c := *b
		c.Tags = map[string]string{} // {{.Tags.x}} then fails as a missing key, like with tags
		b = &c
	}
	var buf bytes.Buffer
	buf.Grow(64 * (len(b.Readings) + 1))
	if err := f.t.execute(&buf, b); err != nil {
		return nil, fmt.Errorf("template (stream %s): %w", b.Stream, err)
	}
	return buf.Bytes(), nil
}
