//go:build ignore

// Command telegraf-verify is the checking half of scripts/telegraf-check.sh:
// it proves that the Telegraf config of docs/fleet.md turns what a box
// publishes into the metrics the doc promises. It is not part of the module's
// packages (build tag ignore: `go vet ./...` and `make test` never see it);
// the script builds it with `go build scripts/telegraf-verify.go`.
//
//	telegraf-verify capture -broker tcp://127.0.0.1:PORT -out FILE [-ready FILE]
//	telegraf-verify check -capture FILE -device ID TELEGRAF_OUT...
//
// capture subscribes to karana/# (QoS 1) and writes every message as a JSON
// line until SIGTERM; -ready is created once the subscription stands, so the
// daemon starts only when nothing can be missed.
//
// check derives from each captured message the exact metrics Telegraf must
// have made (measurement, complete tag set, typed fields, ns timestamp) and
// compares them, as multisets, with the line protocol Telegraf wrote (the
// outputs.file influx serializer), one file per Telegraf instance:
//   - data metrics (karana/<id>/data/...) over the union of the files: each
//     exactly once, so several instances on one $share group split the data
//     with nothing lost and nothing doubled; with two or more files each must
//     have got some data, or the group did not share;
//   - status metrics (karana/<id>/status, subscribed without $share) in every
//     file, timestamps not compared (Telegraf stamps them on arrival).
//
// Floats are compared as parsed float64 values, so Telegraf writing -2710.70
// for -2710.7 would pass and -2710.6 would not. It exits 1 listing what is
// missing or unexpected, 0 with a summary and a sample of matched lines.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: telegraf-verify capture|check ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "capture":
		err = capture(os.Args[2:])
	case "check":
		err = check(os.Args[2:])
	default:
		err = fmt.Errorf("unknown verb %q (capture, check)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "telegraf-verify:", err)
		os.Exit(1)
	}
}

// message is one captured MQTT message, one JSON line of the capture file.
type message struct {
	Topic    string `json:"topic"`
	Retained bool   `json:"retained"`
	Payload  string `json:"payload"`
}

func capture(args []string) error {
	fs := flag.NewFlagSet("capture", flag.ExitOnError)
	broker := fs.String("broker", "", "broker URL")
	out := fs.String("out", "", "capture file (JSON lines)")
	ready := fs.String("ready", "", "file to create once subscribed")
	fs.Parse(args)
	if *broker == "" || *out == "" {
		return errors.New("capture: -broker and -out are required")
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(f)
	var encErr error
	opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID("telegraf-verify-capture").
		SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("capture: connect %s: %v", *broker, tok.Error())
	}
	tok := c.Subscribe("karana/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(message{m.Topic(), m.Retained(), string(m.Payload())}); err != nil && encErr == nil {
			encErr = err
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("capture: subscribe: %v", tok.Error())
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Disconnect(500)
	mu.Lock()
	defer mu.Unlock()
	if encErr != nil {
		return fmt.Errorf("capture: write %s: %w", *out, encErr)
	}
	return f.Sync()
}

// metric is one expected or observed metric in canonical form: key holds
// everything compared; line is a readable form for the report.
type metric struct {
	key  string
	line string
}

// canon renders a metric so that equal metrics give equal strings: tags and
// fields sorted, values through the line-protocol Value (typed: 1 and 1i and
// "1" differ; floats as float64). ts < 0 leaves the time out.
func canon(name string, tags map[string]string, fields map[string]lineprotocol.Value, ts int64) metric {
	var b strings.Builder
	b.WriteString(name)
	for _, k := range sortedKeys(tags) {
		fmt.Fprintf(&b, ",%s=%s", k, tags[k])
	}
	b.WriteByte(' ')
	for i, k := range sortedKeys(fields) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, fields[k])
	}
	if ts >= 0 {
		fmt.Fprintf(&b, " %d", ts)
	}
	return metric{key: b.String(), line: b.String()}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// expectation is what the capture says Telegraf must have produced.
type expectation struct {
	data, status []metric
	// counts for the summary and for the checks against vacuous passes
	influxBatches, influxLines, jsonBatches, jsonReadings, msReadings int
	states                                                            map[string]int
}

func expect(msgs []message, device string) (*expectation, error) {
	e := &expectation{states: map[string]int{}}
	prefix := "karana/" + device + "/"
	for i, m := range msgs {
		where := fmt.Sprintf("capture message %d (%s)", i+1, m.Topic)
		rest, ok := strings.CutPrefix(m.Topic, prefix)
		if !ok {
			return nil, fmt.Errorf("%s: not under %s", where, prefix)
		}
		switch {
		case rest == "status":
			var doc map[string]any
			if err := json.Unmarshal([]byte(m.Payload), &doc); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			state, _ := doc["state"].(string)
			if state == "" {
				return nil, fmt.Errorf("%s: no state in %s", where, m.Payload)
			}
			e.states[state]++
			fields := map[string]lineprotocol.Value{"status": mustString(state)}
			for _, k := range []string{"buffer_depth", "oldest_unsent_age_s"} {
				if v, ok := doc[k].(float64); ok {
					fields[k] = lineprotocol.IntValue(int64(v))
				}
			}
			e.status = append(e.status, canon("karana_status",
				map[string]string{"device": device, "state": state}, fields, -1))
		case rest == "data/influx":
			e.influxBatches++
			dec := lineprotocol.NewDecoderWithBytes([]byte(m.Payload))
			for dec.Next() {
				ms, err := decodeLine(dec)
				if err != nil {
					return nil, fmt.Errorf("%s: the box's line protocol: %w", where, err)
				}
				// Telegraf adds stream (and device again, same value) from the topic.
				ms.tags["stream"] = "influx"
				if ms.tags["device"] != device {
					return nil, fmt.Errorf("%s: device tag %q, want %q", where, ms.tags["device"], device)
				}
				e.data = append(e.data, canon(ms.name, ms.tags, ms.fields, ms.ts))
				e.influxLines++
			}
		case rest == "data/raw":
			e.jsonBatches++
			var batch struct {
				Readings []struct {
					Seq   int64    `json:"seq"`
					Name  string   `json:"name"`
					TS    string   `json:"ts"`
					Value *float64 `json:"value"`
					Unit  string   `json:"unit"`
					Flags *int64   `json:"flags"`
				} `json:"readings"`
			}
			if err := json.Unmarshal([]byte(m.Payload), &batch); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			for _, r := range batch.Readings {
				// The box's own contract: RFC 3339 UTC with milliseconds.
				t, err := time.Parse(time.RFC3339Nano, r.TS)
				if err != nil {
					return nil, fmt.Errorf("%s: reading %d: ts: %w", where, r.Seq, err)
				}
				if t.Nanosecond() != 0 {
					e.msReadings++
				}
				tags := map[string]string{"device": device, "stream": "raw", "name": r.Name}
				if r.Unit != "" { // Telegraf drops empty tag values
					tags["unit"] = r.Unit
				}
				fields := map[string]lineprotocol.Value{"seq": lineprotocol.IntValue(r.Seq)}
				if r.Value != nil {
					v, ok := lineprotocol.FloatValue(*r.Value)
					if !ok {
						return nil, fmt.Errorf("%s: reading %d: value %v", where, r.Seq, *r.Value)
					}
					fields["value"] = v
				}
				if r.Flags != nil {
					fields["flags"] = lineprotocol.IntValue(*r.Flags)
				}
				e.data = append(e.data, canon("karana", tags, fields, t.UnixNano()))
				e.jsonReadings++
			}
		default:
			return nil, fmt.Errorf("%s: a topic the check does not know", where)
		}
	}
	return e, nil
}

func mustString(s string) lineprotocol.Value {
	v, ok := lineprotocol.StringValue(s)
	if !ok {
		panic("invalid string value " + s)
	}
	return v
}

type decoded struct {
	name   string
	tags   map[string]string
	fields map[string]lineprotocol.Value
	ts     int64
}

func decodeLine(dec *lineprotocol.Decoder) (decoded, error) {
	d := decoded{tags: map[string]string{}, fields: map[string]lineprotocol.Value{}}
	name, err := dec.Measurement()
	if err != nil {
		return d, err
	}
	d.name = string(name)
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return d, err
		}
		if k == nil {
			break
		}
		d.tags[string(k)] = string(v)
	}
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return d, err
		}
		if k == nil {
			break
		}
		d.fields[string(k)] = v
	}
	t, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
	if err != nil {
		return d, err
	}
	if t.IsZero() {
		return d, errors.New("line without a timestamp")
	}
	d.ts = t.UnixNano()
	return d, nil
}

// observed reads one Telegraf output file, split into data and status metrics.
func observed(path string) (data, status []metric, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	dec := lineprotocol.NewDecoderWithBytes(b)
	for n := 1; dec.Next(); n++ {
		d, err := decodeLine(dec)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: line %d: %w", path, n, err)
		}
		if d.name == "karana_status" {
			status = append(status, canon(d.name, d.tags, d.fields, -1))
		} else {
			data = append(data, canon(d.name, d.tags, d.fields, d.ts))
		}
	}
	return data, status, nil
}

// diff compares two multisets; it returns readable problems, at most a few
// examples of each kind.
func diff(what string, want, got []metric) []string {
	count := map[string]int{}
	for _, m := range want {
		count[m.key]++
	}
	for _, m := range got {
		count[m.key]--
	}
	var missing, extra []string
	for _, k := range sortedKeys(count) {
		switch c := count[k]; {
		case c > 0:
			missing = append(missing, fmt.Sprintf("%s  (x%d)", k, c))
		case c < 0:
			extra = append(extra, fmt.Sprintf("%s  (x%d)", k, -c))
		}
	}
	var out []string
	add := func(kind string, l []string) {
		if len(l) == 0 {
			return
		}
		p := fmt.Sprintf("%s: %d %s, e.g.:", what, len(l), kind)
		for i, s := range l {
			if i == 4 {
				break
			}
			p += "\n    " + s
		}
		out = append(out, p)
	}
	add("expected metrics missing from Telegraf's output", missing)
	add("metrics in Telegraf's output the box never sent (or sent fewer times)", extra)
	return out
}

func check(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	capFile := fs.String("capture", "", "capture file written by capture")
	device := fs.String("device", "", "the box's device id")
	fs.Parse(args)
	if *capFile == "" || *device == "" || fs.NArg() == 0 {
		return errors.New("check: -capture, -device and at least one Telegraf output file are required")
	}
	msgs, err := readCapture(*capFile)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	e, err := expect(msgs, *device)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	problems := e.tooThin()
	allData, sample, more, err := compareOutputs(e, fs.Args())
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	problems = append(problems, more...)
	problems = append(problems, diff("data", e.data, allData)...)
	sample = append(sample, dataSample(allData)...)

	fmt.Printf("telegraf-verify: captured %d influx batches (%d lines), %d json batches (%d readings, %d with ms), status %v\n",
		e.influxBatches, e.influxLines, e.jsonBatches, e.jsonReadings, e.msReadings, e.states)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("FAIL:", p)
		}
		return fmt.Errorf("check: %d problem(s)", len(problems))
	}
	fmt.Println("telegraf-verify: every metric matches what the box sent (tags, typed fields, ns time); sample:")
	for _, s := range sample {
		fmt.Println("    " + s)
	}
	return nil
}

// readCapture reads the JSON lines capture wrote.
func readCapture(path string) ([]message, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var msgs []message
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m message
		if err := json.Unmarshal(l, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// tooThin guards against a pass that proves nothing: a capture too short
// to hold every kind of message the check is about.
func (e *expectation) tooThin() []string {
	var problems []string
	if e.influxLines < 3 {
		problems = append(problems, fmt.Sprintf("only %d influx lines captured: the run was too short", e.influxLines))
	}
	if e.jsonReadings < 3 {
		problems = append(problems, fmt.Sprintf("only %d json readings captured: the run was too short", e.jsonReadings))
	}
	if e.msReadings == 0 {
		problems = append(problems, "no captured reading has a non-zero millisecond ts: timestamp_format not exercised")
	}
	if e.states["online"] == 0 || e.states["offline"] == 0 {
		problems = append(problems, fmt.Sprintf("status documents captured %v: want online and offline", e.states))
	}
	return problems
}

// compareOutputs reads each Telegraf output file, checks its status
// metrics against e and that a $share group split the data between the
// instances, and returns the data metrics of all files together.
func compareOutputs(e *expectation, files []string) (allData []metric, sample, problems []string, err error) {
	for _, f := range files {
		data, status, err := observed(f)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(files) > 1 {
			nJSON := countJSON(data)
			if nJSON == 0 || nJSON == len(data) {
				problems = append(problems, fmt.Sprintf("%s: %d influx and %d json data metrics: the $share groups did not split both streams",
					f, len(data)-nJSON, nJSON))
			}
		}
		allData = append(allData, data...)
		problems = append(problems, diff(f+": status", e.status, status)...)
		if len(status) > 0 {
			sample = append(sample, status[0].line, status[len(status)-1].line)
		}
		fmt.Printf("telegraf-verify: %s: %d data metrics, %d status metrics\n", f, len(data), len(status))
	}
	return allData, sample, problems, nil
}

// countJSON counts the metrics that came from the json stream (the
// measurement the Telegraf config gives it is "karana").
func countJSON(data []metric) int {
	n := 0
	for _, m := range data {
		if strings.HasPrefix(m.line, "karana,") {
			n++
		}
	}
	return n
}

// dataSample is two lines of each data input for the report.
func dataSample(data []metric) []string {
	var sample []string
	var nInflux, nJSON int
	for _, m := range data {
		if strings.HasPrefix(m.line, "karana,") {
			if nJSON++; nJSON <= 2 {
				sample = append(sample, m.line)
			}
		} else if nInflux++; nInflux <= 2 {
			sample = append(sample, m.line)
		}
	}
	return sample
}
