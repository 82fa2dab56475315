package config

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

type encInner struct {
	A int     `toml:"a"`
	B float64 `toml:"b"`
}

type encAll struct {
	S       string            `toml:"s"`
	Quoted  string            `toml:"quoted"`
	I       int64             `toml:"i"`
	U       uint32            `toml:"u"`
	F       float64           `toml:"f"`
	Whole   float64           `toml:"whole"`
	Big     float64           `toml:"big"`
	Tiny    float32           `toml:"tiny"`
	Neg     float64           `toml:"neg"`
	Inf     float64           `toml:"inf"`
	B       bool              `toml:"b"`
	D       Duration          `toml:"d"`
	Z       Size              `toml:"z"`
	List    []string          `toml:"list"`
	Nums    []float64         `toml:"nums"`
	Empty   []string          `toml:"empty"`
	Inner   encInner          `toml:"inner"`
	Ptr     *encInner         `toml:"ptr"`
	NilPtr  *encInner         `toml:"nil_ptr"`
	Map     map[string]int    `toml:"map"`
	Odd     string            `toml:"odd key"`
	Hidden  string            `toml:"-"`
	Untaged string            // written under its Go name
	Labels  map[string]string `toml:"labels"`
}

func TestWriteKeysRoundTrip(t *testing.T) {
	in := encAll{
		S: "plain", Quoted: "q\"b\\s\nnl\ttab\x01ctl\x7f ü ☀ \u2028",
		I: math.MinInt64, U: math.MaxUint32,
		F: 0.1, Whole: 3, Big: 1e21, Tiny: 1.5e-7, Neg: -0.0, Inf: math.Inf(-1),
		B: true, D: D(90 * time.Second), Z: 1<<20 + 1,
		List: []string{"a*", "b.c"}, Nums: []float64{1, 2.5}, Empty: []string{},
		Inner: encInner{A: 1, B: 2}, Ptr: &encInner{A: -3},
		Map: map[string]int{"z": 1, "a.b": 2}, Odd: "x", Hidden: "never", Untaged: "u",
	}
	var b strings.Builder
	if err := WriteKeys(&b, &in); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	var out encAll
	if _, err := toml.Decode(text, &out); err != nil {
		t.Fatalf("output is not TOML: %v\n%s", err, text)
	}
	in.Hidden = ""
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v\n%s", in, out, text)
	}
	for _, want := range []string{
		"whole = 3.0\n", `d = "1m30s"`, `z = "1048577B"`, `"odd key" = "x"`, "empty = []\n",
		"inner = { a = 1, b = 2.0 }\n", `map = { "a.b" = 2, z = 1 }`, "inf = -inf\n", "Untaged = ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, absent := range []string{"nil_ptr", "never", "labels"} {
		if strings.Contains(text, absent) {
			t.Errorf("output holds %q:\n%s", absent, text)
		}
	}
	if strings.Contains(text, `\x`) {
		t.Errorf("\\x escape is not TOML:\n%s", text)
	}
}

func TestFormatFloatNaN(t *testing.T) {
	var v struct {
		F float64 `toml:"f"`
	}
	v.F = math.NaN()
	var b strings.Builder
	if err := WriteKeys(&b, &v); err != nil || b.String() != "f = nan\n" {
		t.Errorf("NaN: %q %v", b.String(), err)
	}
}

func TestWriteKeysRejects(t *testing.T) {
	var b strings.Builder
	big := struct {
		U uint64 `toml:"u"`
	}{U: math.MaxUint64}
	if err := WriteKeys(&b, &big); err == nil {
		t.Error("uint64 beyond int64: want an error")
	}
	if err := WriteKeys(&b, 5); err == nil {
		t.Error("non-struct: want an error")
	}
}
