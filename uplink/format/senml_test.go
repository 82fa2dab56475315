package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// senmlRec is a SenML record as a recipient decodes it; json.Number keeps
// the written decimal for exact comparisons.
type senmlRec struct {
	BN    *string      `json:"bn" cbor:"-2,keyasint"`
	BT    *json.Number `json:"bt" cbor:"-"`
	N     string       `json:"n" cbor:"0,keyasint"`
	U     string       `json:"u" cbor:"1,keyasint"`
	V     *json.Number `json:"v" cbor:"-"`
	T     *json.Number `json:"t" cbor:"-"`
	Flags uint8        `json:"flags" cbor:"flags"`

	// CBOR numbers come as int64, uint64 or float64
	CBT any `json:"-" cbor:"-3,keyasint"`
	CV  any `json:"-" cbor:"2,keyasint"`
	CT  any `json:"-" cbor:"6,keyasint"`
}

// resolved is a record after RFC 8428 §4.6 resolution.
type resolved struct {
	name  string
	unit  string
	value float64
	ns    int64 // absolute time, ns since 1970
	flags uint8
}

func decodeSenMLJSON(t *testing.T, payload []byte) []senmlRec {
	t.Helper()
	var recs []senmlRec
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&recs); err != nil {
		t.Fatalf("decode senml %s: %v", payload, err)
	}
	return recs
}

func decodeSenMLCBOR(t *testing.T, payload []byte) []senmlRec {
	t.Helper()
	var recs []senmlRec
	dm, _ := cbor.DecOptions{ExtraReturnErrors: cbor.ExtraDecErrorUnknownField}.DecMode()
	if err := dm.Unmarshal(payload, &recs); err != nil {
		t.Fatalf("decode senml-cbor %x: %v", payload, err)
	}
	num := func(v any) *json.Number {
		var s string
		switch x := v.(type) {
		case nil:
			return nil
		case int64:
			s = strconv.FormatInt(x, 10)
		case uint64:
			s = strconv.FormatUint(x, 10)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			t.Fatalf("number of type %T", v)
		}
		n := json.Number(s)
		return &n
	}
	for i := range recs {
		recs[i].BT, recs[i].V, recs[i].T = num(recs[i].CBT), num(recs[i].CV), num(recs[i].CT)
	}
	return recs
}

// resolve applies base name and base time as a recipient does: times to
// the nanosecond from the decimal (exact for JSON; CBOR floats are exact to
// well below a microsecond for offsets within a batch).
func resolve(t *testing.T, recs []senmlRec) []resolved {
	t.Helper()
	var bn string
	var bt float64
	var out []resolved
	for i, r := range recs {
		if r.BN != nil {
			bn = *r.BN
		}
		if r.BT != nil {
			v, err := r.BT.Float64()
			if err != nil || v != math.Trunc(v) {
				t.Fatalf("record %d: bt %v is not whole seconds", i, *r.BT)
			}
			bt = v
		}
		if r.V == nil {
			t.Fatalf("record %d has no value", i)
		}
		v, err := r.V.Float64()
		if err != nil {
			t.Fatal(err)
		}
		var off float64
		if r.T != nil {
			if off, err = r.T.Float64(); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, resolved{name: bn + r.N, unit: r.U, value: v,
			ns: int64(bt)*1e9 + int64(math.Round(off*1e9)), flags: r.Flags})
	}
	return out
}

// senmlGoldenWant is what the golden batch resolves to, written out by
// hand: units mapped (°C → Cel, Wh → J with the value ×3600).
func senmlGoldenWant(bn string) []resolved {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 100_000_000, time.UTC).UnixNano()
	return []resolved{
		{bn + "sim1.value", "", 101, t0, 0},
		{bn + "battery.voltage", "V", 12.625, t0 + 1500e6, 0},
		{bn + "battery.current", "A", -0.0000005, t0 + 1999999e3, 0},
		{bn + "ambient.temperature", "Cel", 31.4, t0, 1},
		{bn + "pv.energy", "J", 3.6e24, t0, 0},
	}
}

func sameResolved(t *testing.T, got, want []resolved) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestSenMLGoldenRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch *Batch
		bn    string
	}{
		{"batch", goldenBatch(), "urn:dev:karana:site-042:"},
		{"tagged", taggedBatch(), "urn:dev:karana:site-042:acme:kisumu-3:"}, // customer < site
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := SenML{}.Format(tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "senml", tc.name+".golden", js)
			sameResolved(t, resolve(t, decodeSenMLJSON(t, js)), senmlGoldenWant(tc.bn))

			cb, err := SenMLCBOR{}.Format(tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "senml-cbor", tc.name+".golden", cb)
			sameResolved(t, resolve(t, decodeSenMLCBOR(t, cb)), senmlGoldenWant(tc.bn))
			if len(cb) >= len(js) {
				t.Errorf("cbor %d bytes, json %d: cbor should be smaller", len(cb), len(js))
			}
		})
	}
}

// TestSenMLCBORLabels checks the RFC 8428 §6 integer labels themselves.
func TestSenMLCBORLabels(t *testing.T) {
	cb, err := SenMLCBOR{}.Format(goldenBatch())
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[any]any
	if err := cbor.Unmarshal(cb, &recs); err != nil {
		t.Fatal(err)
	}
	// CBOR decodes non-negative integer keys as uint64, negative as int64
	label := func(rec map[any]any, l int64) any {
		if l >= 0 {
			return rec[uint64(l)]
		}
		return rec[l]
	}
	for l, want := range map[int64]any{-2: "urn:dev:karana:site-042:", -3: uint64(1795298400), 0: "sim1.value", 2: uint64(101), 6: 0.1} {
		if got := label(recs[0], l); got != want {
			t.Errorf("record 0, label %d: got %v (%T), want %v (%T)", l, got, got, want, want)
		}
	}
	for l, want := range map[int64]any{0: "battery.voltage", 1: "V", 2: 12.625, 6: 1.6} {
		if got := label(recs[1], l); got != want {
			t.Errorf("record 1, label %d: got %v (%T), want %v (%T)", l, got, got, want, want)
		}
	}
	if got := recs[3]["flags"]; got != uint64(1) {
		t.Errorf("flags extension: %v", got)
	}
	if len(recs[1]) != 4 {
		t.Errorf("record 1 has labels %v, want n u v t only", recs[1])
	}
}

// TestSenMLRoundTripRandom round-trips many readings through both
// encodings: names, units, values exact, times to the nanosecond.
func TestSenMLRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	units := []string{"", "V", "A", "W", "%", "%RH", "Hz", "furlong"}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := &Batch{Device: "box-7", Stream: "raw", Tags: map[string]string{"site": "s1"}}
	for i := range 2000 {
		v := math.Round(rng.NormFloat64()*1e5) / 1e3
		switch i % 7 {
		case 0:
			v = math.Float64frombits(rng.Uint64())
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
		case 1:
			v = float64(rng.IntN(1 << 20))
		}
		b.Readings = append(b.Readings, reading.Reading{
			Seq: uint64(i + 1), Name: "s" + strconv.Itoa(i%40) + ".value",
			Time:  t0.Add(time.Duration(rng.Int64N(int64(15*time.Minute))) - 5*time.Minute), // some before bt
			Value: v, Unit: units[i%len(units)], Flags: reading.Flags(i % 2),
		})
	}
	want := make([]resolved, len(b.Readings))
	for i, r := range b.Readings {
		u := r.Unit
		if u == "" {
			u = ""
		}
		want[i] = resolved{"urn:dev:karana:box-7:s1:" + r.Name, u, r.Value, r.Time.UnixNano(), uint8(r.Flags)}
	}
	js, err := SenML{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	sameResolved(t, resolve(t, decodeSenMLJSON(t, js)), want)
	cb, err := SenMLCBOR{}.Format(b)
	if err != nil {
		t.Fatal(err)
	}
	sameResolved(t, resolve(t, decodeSenMLCBOR(t, cb)), want)
}

func TestSenMLUnits(t *testing.T) {
	for _, tc := range []struct {
		unit     string
		v        float64
		wantUnit string
		want     float64
	}{
		{"°C", 21.5, "Cel", 21.5},
		{"%RH", 55.1, "%RH", 55.1},
		{"Wh", 12.345, "J", 44442},
		{"kWh", 0.1, "J", 360000},
		{"hPa", 1013.2, "Pa", 101320},
		{"mV", 3297, "V", 3.297},
		{"mA", 0.1, "A", 0.0001},
		{"ppm", 415.5, "/", 0.0004155},
		{"min", 1.5, "s", 90},
		{"m³/h", 2.5, "m³/h", 2.5}, // not in the registry: as is
		{"", 1, "", 1},
	} {
		u, v := senmlUnit(tc.unit, tc.v)
		if u != tc.wantUnit || v != tc.want {
			t.Errorf("%v %s → %v %s, want %v %s", tc.v, tc.unit, v, u, tc.want, tc.wantUnit)
		}
	}
}

func TestSenMLSeconds(t *testing.T) {
	for _, tc := range []struct {
		sec  int64
		nsec int
		want string
	}{
		{0, 0, "0"}, {10, 0, "10"}, {1, 500_000_000, "1.5"}, {0, 1, "0.000000001"},
		{-1, 750_000_000, "-0.25"}, {-2, 250_000_000, "-1.75"}, {-5, 0, "-5"}, {3, 100_000_000, "3.1"},
	} {
		if got := string(appendSeconds(nil, tc.sec, tc.nsec)); got != tc.want {
			t.Errorf("%d s + %d ns: got %s, want %s", tc.sec, tc.nsec, got, tc.want)
		}
	}
}

func TestSenMLTagsMustFitTheBaseName(t *testing.T) {
	for _, name := range []string{"senml", "senml-cbor"} {
		_, err := Configure(name, nil, map[string]string{"site": "Kisumu 3", "ok": "fine"})
		var fe config.FieldErrors
		if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Key != "tags.site" || !strings.Contains(fe[0].Msg, "SenML base name") {
			t.Errorf("%s: got %v, want one error on tags.site", name, err)
		}
		if _, err := Configure(name, nil, map[string]string{"site": "kisumu-3"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := configureTOML(name, `template = "x"`, nil); err == nil {
			t.Errorf("%s accepts a template", name)
		}
	}
	// and at format time, for a batch that bypassed the config
	b := goldenBatch()
	b.Tags = map[string]string{"site": "has space"}
	if _, err := (SenML{}).Format(b); err == nil {
		t.Error("senml formats a base name with a space")
	}
	if _, err := (SenMLCBOR{}).Format(b); err == nil {
		t.Error("senml-cbor formats a base name with a space")
	}
}

func TestSenMLSkipsNonFiniteAndEmpty(t *testing.T) {
	t0 := time.Unix(1782043200, 0)
	b := &Batch{Device: "d", Readings: []reading.Reading{
		{Name: "a.nan", Time: t0, Value: math.NaN()},
		{Name: "a.ok", Time: t0.Add(time.Second), Value: 2},
		{Name: "a.inf", Time: t0, Value: math.Inf(-1)},
	}}
	js, _ := SenML{}.Format(b)
	want := `[{"bn":"urn:dev:karana:d:","bt":1782043201,"n":"a.ok","v":2}]`
	if string(js) != want {
		t.Errorf("got %s, want %s", js, want)
	}
	cb, _ := SenMLCBOR{}.Format(b)
	if got := resolve(t, decodeSenMLCBOR(t, cb)); len(got) != 1 || got[0].value != 2 {
		t.Errorf("cbor: %+v", got)
	}
	empty, _ := SenML{}.Format(&Batch{Device: "d", Dropped: 3})
	if string(empty) != "[]" {
		t.Errorf("empty pack %s", empty)
	}
}
