package format

import (
	"bytes"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// refTemplateFuncs are the template format's functions as they were given
// to text/template before the format had its own executor: the reference
// for the differential test.
var refTemplateFuncs = template.FuncMap{
	"rfc3339ms": func(t time.Time) string { return string(appendTimeMilli(nil, t)) },
	"unixms":    func(t time.Time) int64 { return t.UnixMilli() },
	"unixns":    func(t time.Time) int64 { return t.UnixNano() },
	"json":      templateJSON,
	"sensor":    func(name string) string { m, _ := splitSeries(name); return m },
	"field":     func(name string) string { _, f := splitSeries(name); return f },
}

// diffCorpus exercises every construct the executor supports; each runs
// through text/template too, which must agree byte for byte, or both fail.
var diffCorpus = []string{
	// README and tests
	`{{range .Readings}}{"site":{{json $.Tags.site}},"sensor":{{json (sensor .Name)}},"v":{{json .Value}},"t":{{unixms .Time}}}
{{end}}`,
	`{{range .Readings}}{"sensor":{{json (sensor .Name)}},"v":{{json .Value}},"t":{{unixms .Time}}}
{{end}}`,
	goldenTemplate,
	`{{range .Readings}}{{.Name}} {{.Value}}{{"\n"}}{{end}}`,
	`{{if gt (len .Readings) 2}}{{index .Readings 99}}{{end}}ok`,
	`{{if .Tags}}{{.Tags.x}}{{end}}none`,
	`{{range .Readings}}{{.Vaule}}{{end}}`,
	`{{.Tags.site}}`,
	// fields, printing
	`{{.Device}} {{.Stream}} {{.FirstSeq}} {{.LastSeq}} {{.Dropped}} {{.Thinned}} {{.Aggregate}}`,
	`{{.Tags}} {{len .Tags}} {{json .Tags}}`,
	`{{.}}`,
	`{{.Readings}}`,
	`{{range .Readings}}{{.}}|{{end}}`,
	`{{range .Readings}}{{.Seq}} {{.Name}} {{.Time}} {{.Value}} {{.Unit}} {{.Flags}};{{end}}`,
	`{{.Foo}}`,
	`{{.Device.Foo}}`,
	`{{.Tags.site.x}}`,
	`{{.Device "x"}}`,
	`{{.Tags.site "x"}}`,
	`{{"x" | .Device}}`,
	// time methods
	`{{range .Readings}}{{.Time.Unix}} {{.Time.UnixMilli}} {{.Time.UnixNano}} {{.Time.UTC}} {{.Time.String}}
{{end}}`,
	`{{range .Readings}}{{.Time.Year}}-{{.Time.Month}}-{{.Time.Day}} {{.Time.Hour}}:{{.Time.Minute}}:{{.Time.Second}}.{{.Time.Nanosecond}} {{.Time.IsZero}}
{{end}}`,
	`{{range .Readings}}{{.Time.Format "2006-01-02T15:04:05.000Z07:00"}} {{.Time.UTC.Format "Jan 2 15:04"}} {{"15:04" | .Time.Format}}
{{end}}`,
	`{{range .Readings}}{{.Time.Format}}{{end}}`,
	`{{range .Readings}}{{.Time.Unix 3}}{{end}}`,
	`{{range .Readings}}{{.Time.Format 3}}{{end}}`,
	`{{range .Readings}}{{.Time.Format .Name}}{{end}}`,
	`{{range .Readings}}{{.Time.wall}}{{end}}`,
	`{{range .Readings}}{{printf "%d" .Time.Month}} {{eq .Time.Month 11}} {{lt .Time.Year 2027}}{{end}}`,
	// functions of the format
	`{{range .Readings}}{{rfc3339ms .Time}} {{unixms .Time}} {{unixns .Time}} {{json .Time}} {{sensor .Name}} {{field .Name}} {{json .Unit}} {{json .Seq}} {{json .Flags}}
{{end}}`,
	`{{range .Readings}}{{.Time | rfc3339ms}} {{.Name | sensor | printf "%q"}}{{end}}`,
	`{{sensor .FirstSeq}}`,
	`{{unixms .Device}}`,
	`{{sensor 3}}`,
	`{{sensor "a.b.c"}} {{field "abc"}} {{json "a\"<b>"}} {{json 1.5}} {{json 3}} {{json true}} {{json nil}}`,
	`{{json .}}`,
	`{{json .Readings}}`,
	`{{rfc3339ms}}`,
	`{{sensor "a" "b"}}`,
	// builtins
	`{{len .Readings}} {{len .Device}} {{len .Tags}}`,
	`{{len .FirstSeq}}`,
	`{{index .Readings 1}} {{(index .Readings 0).Name}} {{index .Tags "site"}}|{{index .Tags "nope"}}|{{index .Device 0}}`,
	`{{index .Readings 5}}`,
	`{{index .Readings -1}}`,
	`{{index .Readings "a"}}`,
	`{{index .Tags 3}}`,
	`{{index .FirstSeq 0}}`,
	`{{index .Readings}}`,
	`{{index .Readings .Dropped}}`,
	`{{slice .Device 1 3}} {{slice .Device 2}} {{len (slice .Readings 1)}} {{range slice .Readings 0 1}}{{.Seq}}{{end}}`,
	`{{slice .Device 3 1}}`,
	`{{slice .Readings 0 1 2}}`,
	`{{print .Device 3 .Dropped}} {{println .Device .Readings}} {{printf "%s=%v %05.2f %x" .Device .LastSeq 3.14159 .Stream}}`,
	`{{printf 3}}`,
	`{{printf}}`,
	`{{print}}|{{println}}|{{print nil}}`,
	`{{html "<a href='x'>&\"</a>"}} {{html .Device 3}} {{urlquery "a b&c=d/é"}} {{urlquery .Device .FirstSeq}}`,
	"{{js `a'b\"c\\d<e>f&g=h\x01\x1f\u00e9\u200b\xff\u2028 x`}} {{js .Device .FirstSeq}} {{js 3}} {{.Stream | js}} {{html \"\\x00\\xffé\"}}",
	`{{not true}} {{not 0}} {{not .Readings}} {{not .Device}} {{not nil}}`,
	`{{and 1 0 2}} {{and 1 2}} {{or 0 "" .Device}} {{or 0 ""}} {{and .Device .Stream}} {{or .Dropped 7}} {{and}}`,
	`{{and 1 (index .Readings 99)}}`,
	`{{or 1 (index .Readings 99)}}`,
	`{{.Dropped | and 1}} {{.Dropped | or 0}}`,
	`{{eq .FirstSeq 101}} {{eq 101 .FirstSeq}} {{eq .Device "site-042"}} {{eq .Dropped 0 1 2}} {{ne .Stream "raw"}} {{eq -1 .FirstSeq}}`,
	`{{lt .FirstSeq .LastSeq}} {{le 1 1}} {{gt 2.5 1.5}} {{ge "b" "a"}} {{lt -1 .Dropped}} {{gt .Dropped -1}}`,
	`{{eq 1 1.0}}`,
	`{{lt true false}}`,
	`{{eq .Readings .Readings}}`,
	`{{eq .Tags .Tags}}`,
	`{{eq (index .Readings 0) (index .Readings 0)}} {{eq (index .Readings 0).Time (index .Readings 0).Time}}`,
	`{{eq .Device}}`,
	`{{eq 1 nil}} {{ne .Device nil}} {{and nil 1}} {{or nil}} {{len nil}}`,
	`{{eq nil nil}}`,
	`{{lt nil 1}}`,
	`{{index nil 1}}`,
	`{{with $x := nil}}{{$x}}{{end}}`,
	`{{$x := index .Tags "nope"}}{{eq $x ""}}`,
	`{{lt 1 2 3}}`,
	`{{ne 1i 2i}} {{1i}} {{eq 'a' 97}} {{0x10}} {{1e3}} {{-0x1e}} {{1_000}} {{0b101}} {{0o17}}`,
	`{{99999999999999999999}}`,
	`{{lt 1i 2i}}`,
	`{{nil}}`,
	`{{3 | 4}}`,
	`{{true}} {{false}} {{"s"}} {{3}} {{3.5}} {{.}}`,
	// variables
	`{{$x := .Device}}{{$x}} {{$x = "y"}}{{$x}} {{$}} {{$.Stream}}`,
	`{{$n := len .Readings}}{{range $i, $r := .Readings}}{{$i}}/{{$n}} {{$r.Name}} {{$.Device}} {{.Seq}}
{{end}}`,
	`{{range $r := .Readings}}{{$r.Seq}},{{end}}`,
	`{{range $k, $v := .Tags}}{{$k}}={{$v}};{{end}}`,
	`{{range $v := .Tags}}{{$v}};{{end}}{{range .Tags}}{{.}},{{end}}`,
	`{{$last := ""}}{{range .Readings}}{{$last = .Name}}{{end}}{{$last}}`,
	`{{$i := 0}}{{$r := 0}}{{range $i, $r = .Readings}}{{end}}{{$i}} {{$r.Seq}}`,
	`{{range .Readings}}{{$x := .Seq}}{{$x}}{{end}}`,
	`{{with $x := .Tags.site}}{{$x}}{{end}}`,
	`{{$x := .Readings}}{{$x.Foo}}`,
	`{{$.Tags.nope}}`,
	// control flow
	`{{if .Dropped}}lost {{.Dropped}}{{else if .Tags}}tagged{{else}}clean{{end}}`,
	`{{if and .Readings (gt .LastSeq 100)}}y{{end}}{{if not .Readings}}empty{{end}}`,
	`{{with .Tags.site}}site={{.}}{{else}}none{{end}}`,
	`{{with .Aggregate}}agg={{.}}{{else with .Stream}}stream={{.}}{{end}}`,
	`{{with index .Readings 0}}{{.Name}}{{end}}`,
	`{{range .Readings}}{{.Seq}}{{else}}no readings{{end}}`,
	`{{range .Readings}}{{if eq .Unit ""}}{{continue}}{{end}}{{.Unit}},{{end}}`,
	`{{range .Readings}}{{if gt .Seq 103}}{{break}}{{end}}{{.Seq}},{{end}}`,
	`{{range $i, $r := .Readings}}{{if $i}},{{end}}{{$r.Seq}}{{end}}`,
	`{{range .Readings}}{{range $.Readings}}{{.Seq}}{{end}};{{end}}`,
	`{{range 3}}{{.}}{{end}} {{range $i := 2}}{{$i}}{{end}} {{range .Dropped}}{{.}}{{else}}none{{end}} {{range -2}}x{{else}}neg{{end}}`,
	`{{range $i, $j := 3}}{{end}}`,
	`{{range .Device}}{{end}}`,
	`{{range .Time}}{{end}}`,
	`{{range .Readings}}{{range .Time.Month}}{{.}} {{end}}{{break}}{{end}}`,
	`{{if .Readings.Foo}}{{end}}`,
	`{{if index .Readings 0}}{{.Device}}{{end}}`,
	// whitespace trimming and comments
	"{{- range .Readings -}}\n  {{ .Name -}} \n = {{- .Value }}\n{{ end -}}\n",
	"a {{/* a comment */}} b {{- /* trimmed */ -}} c",
	// chains and parentheses
	`{{(index .Readings 1).Time.Unix}} {{(.Device)}} {{(len .Readings) | printf "%03d"}}`,
	`{{(nil).Foo}}`,
	`{{("x").Foo}}`,
	`{{(index .Readings 0).Nope}}`,
}

// diffBatches are the batches the corpus runs on.
func diffBatches() []*Batch {
	empty := goldenBatch()
	empty.Readings = nil
	empty.Tags = map[string]string{}
	agg := taggedBatch()
	agg.Aggregate, agg.Thinned, agg.Dropped = "15m", 3, 0
	zero := &Batch{Stream: "z", Tags: map[string]string{}, Readings: []reading.Reading{{Name: "x"}}}
	return []*Batch{sampleBatch(map[string]string{"site": "kisumu-3"}), goldenBatch(), taggedBatch(), empty, agg, zero}
}

func TestTemplateDifferential(t *testing.T) {
	for _, src := range diffCorpus {
		ref, refErr := template.New("template").Option("missingkey=error").Funcs(refTemplateFuncs).Parse(src)
		mine, err := parseTemplate(src)
		if (refErr != nil) != (err != nil) {
			t.Errorf("%q: parse: text/template %v, ours %v", src, refErr, err)
			continue
		}
		if err != nil {
			continue
		}
		for i, b := range diffBatches() {
			if b.Tags == nil {
				b.Tags = map[string]string{}
			}
			var want, got bytes.Buffer
			refErr := ref.Execute(&want, b)
			err := mine.execute(&got, b)
			switch {
			case (refErr != nil) != (err != nil):
				t.Errorf("%q on batch %d: text/template %v, ours %v (out %q)", src, i, refErr, err, got.String())
			case err == nil && !bytes.Equal(want.Bytes(), got.Bytes()):
				t.Errorf("%q on batch %d:\n text/template %q\n ours          %q", src, i, want.String(), got.String())
			}
		}
	}
}

// TestTemplateErrorsName checks that an error names the template position
// and, for a misspelt field, what there is.
func TestTemplateErrorsName(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{{range .Readings}}{{.Vaule}}{{end}}`, `template:1:21: executing "template" at <.Vaule>: can't evaluate field Vaule in type a reading (fields: Seq Name Time Value Unit Flags)`},
		{`{{.Foo}}`, `template:1:2: executing "template" at <.Foo>: can't evaluate field Foo in type the batch (fields: Device Stream FirstSeq LastSeq Dropped Thinned Aggregate Tags Readings)`},
		{`{{range .Readings}}{{.Time.Weekday}}{{end}}`, `can't evaluate field Weekday in type time.Time (methods: Unix UnixMilli UnixNano UTC Format String Year Month Day Hour Minute Second Nanosecond IsZero)`},
		{"x\n{{.Tags.nope}}", `template:2:7: executing "template" at <.Tags.nope>: map has no entry for key "nope"`},
	} {
		p, err := parseTemplate(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		err = p.execute(&bytes.Buffer{}, sampleBatch(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestTemplateRefusesRecursion: define, block and template would allow
// recursion; they are refused when the template is parsed.
func TestTemplateRefusesRecursion(t *testing.T) {
	for _, src := range []string{
		`{{define "x"}}{{template "x"}}{{end}}{{template "x"}}`,
		`{{block "b" .}}x{{end}}`,
		`{{if .Device}}{{range .Readings}}{{template "y" .}}{{end}}{{end}}`,
	} {
		if _, err := parseTemplate(src); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%q: got %v, want not supported", src, err)
		}
	}
}

// TestTemplateBounds: a template that would write or loop without end
// fails the batch instead.
func TestTemplateBounds(t *testing.T) {
	defer func(o, s int) { tmplMaxOutput, tmplMaxSteps = o, s }(tmplMaxOutput, tmplMaxSteps)
	tmplMaxOutput, tmplMaxSteps = 1<<20, 100_000
	p, err := parseTemplate(`{{range .LastSeq}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	b := sampleBatch(nil)
	b.LastSeq = 1 << 40 // would run for hours
	if err := p.execute(&bytes.Buffer{}, b); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Errorf("range over 2^40: got %v", err)
	}
	p, err = parseTemplate(`{{range .LastSeq}}{{printf "%010000d" 0}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	b.LastSeq = 200 // 2 MB
	if err := p.execute(&bytes.Buffer{}, b); err == nil || !strings.Contains(err.Error(), "output larger") {
		t.Errorf("2 MB of output: got %v", err)
	}
}

// TestTemplateNoTextTemplate fails if the package's non-test code
// imports text/template, whose executor costs the binary its
// MethodByName-kept methods.
func TestTemplateNoTextTemplate(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(pkg.Imports, "text/template") || slices.Contains(pkg.Imports, "html/template") {
		t.Errorf("package format imports text/template or html/template: %v", pkg.Imports)
	}
	if len(pkg.GoFiles) == 0 || !slices.Contains(pkg.Imports, "text/template/parse") {
		t.Errorf("found no package files importing text/template/parse: %v", pkg.GoFiles)
	}
	// nor through another package
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command for go list -deps:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "text/template/parse") {
		t.Fatalf("go list -deps does not list text/template/parse: %q", out)
	}
	if slices.Contains(deps, "text/template") || slices.Contains(deps, "html/template") {
		t.Errorf("package format depends on text/template or html/template through another package")
	}
}

// TestTemplateREADMEDocumented: the README's template section lists the
// time methods the executor supports.
func TestTemplateREADMEDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skip("no README.md:", err)
	}
	sec := regexp.MustCompile(`(?s)\*\*template\.\*\*.*?\n\*\*exec\.\*\*`).Find(readme)
	for _, m := range strings.Fields(timeMethods) {
		if !bytes.Contains(sec, []byte("."+m)) && !bytes.Contains(sec, []byte(" "+m)) {
			t.Errorf("README's template section does not name time method %s", m)
		}
	}
}

// TestTemplateCheckNoFalseAlarm: every corpus template that text/template
// runs without error on every batch passes the static check.
func TestTemplateCheckNoFalseAlarm(t *testing.T) {
	checked := 0
	for _, src := range diffCorpus {
		ref, err := template.New("template").Option("missingkey=error").Funcs(refTemplateFuncs).Parse(src)
		if err != nil {
			continue
		}
		ok := true
		for _, b := range diffBatches() {
			if ref.Execute(&bytes.Buffer{}, b) != nil {
				ok = false
			}
		}
		if !ok {
			continue
		}
		checked++
		p, err := parseTemplate(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if err := p.check(); err != nil {
			t.Errorf("%q: text/template runs it, the check refuses: %v", src, err)
		}
	}
	if checked < 50 {
		t.Errorf("only %d corpus templates run clean", checked)
	}
}

// TestTemplateCheckFindsUntaken: mistakes in branches the sample batch
// does not take fail at load, naming the position.
func TestTemplateCheckFindsUntaken(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{{if .Dropped}}lost {{.Dropedd}}{{end}}`, "template:1:22: can't evaluate field Dropedd in type the batch"},
		{`{{range .Readings}}{{if gt .Seq 1000}}{{.Time.Weekday}}{{end}}{{end}}`, "template:1:45: can't evaluate field Weekday in type time.Time (methods: Unix"},
		{`{{range $i, $r := .Readings}}{{if false}}{{$r.Vaule}}{{end}}{{end}}`, "can't evaluate field Vaule in type a reading (fields: Seq Name Time Value Unit Flags)"},
		{`{{if false}}{{(index .Readings 0).Nme}}{{end}}`, "can't evaluate field Nme in type a reading"},
		{`{{if false}}{{range .Device}}{{end}}{{end}}`, "range can't iterate over string"},
		{`{{range .Readings}}{{if false}}{{sensor .Time}}{{end}}{{end}}`, "sensor takes a string, not time.Time"},
		{`{{if false}}{{.Time | unixms}}{{end}}`, "can't evaluate field Time in type the batch"},
		{`{{with .Aggregate}}{{unixms .}}{{end}}`, "unixms takes a time (.Time), not string"},
		{`{{range .Tags}}{{.Seq}}{{end}}`, "can't evaluate field Seq in type string"},
		{`{{if false}}{{.Readings.Name}}{{end}}`, "can't evaluate field Name in type .Readings"},
		{"x\n\n{{if .Dropped}}{{$.Tags.site.x}}{{end}}", "template:3:"},
	} {
		_, err := configureTOML("template", "template = '''"+tc.src+"'''", map[string]string{"site": "s"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

// FuzzTemplateDifferential looks for templates on which the executor and
// text/template disagree (go test -fuzz FuzzTemplateDifferential); without
// -fuzz it runs the corpus.
func FuzzTemplateDifferential(f *testing.F) {
	for _, src := range diffCorpus {
		f.Add(src)
	}
	// text/template has no bound: keep out what could run for long
	slow := regexp.MustCompile(`range|template|block|define|call`)
	big := regexp.MustCompile(`\d{4}|0[xXbBoO]|\de|'`)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 300 || (slow.MatchString(src) && big.MatchString(src)) || strings.Contains(src, "template") ||
			strings.Contains(src, "block") || strings.Contains(src, "define") || strings.Contains(src, "call") {
			return
		}
		ref, refErr := template.New("template").Option("missingkey=error").Funcs(refTemplateFuncs).Parse(src)
		mine, err := parseTemplate(src)
		if (refErr != nil) != (err != nil) {
			t.Fatalf("%q: parse: text/template %v, ours %v", src, refErr, err)
		}
		if err != nil {
			return
		}
		ran := map[ranKey]bool{} // nodes evaluated without error
		for i, b := range diffBatches() {
			var want, got bytes.Buffer
			refErr := ref.Execute(&want, b)
			err := mine.run(&got, b, ran)
			if refErr == nil && documentedRefusal(err) {
				continue
			}
			if (refErr != nil) != (err != nil) || (err == nil && !bytes.Equal(want.Bytes(), got.Bytes())) {
				t.Fatalf("%q on batch %d:\n text/template %q, %v\n ours          %q, %v", src, i, want.String(), refErr, got.String(), err)
			}
		}
		// the static check refuses no node that ran without error
		var ce checkError
		if err := mine.check(); errors.As(err, &ce) && ran[ce.at] {
			t.Fatalf("%q: the check refuses what ran: %v", src, err)
		}
	})
}

// documentedRefusal: what the README says the executor refuses and
// text/template runs: time methods not listed, the Severity func field.
func documentedRefusal(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "in type time.") || strings.Contains(err.Error(), "field Severity"))
}
