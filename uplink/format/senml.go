package format

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/karana-energy/karana-edge/config"
)

// SenML is the "senml" format: a Sensor Measurement List (RFC 8428) in
// JSON, one record per reading:
//
//	[{"bn":"urn:dev:karana:site-042:kisumu-3:","bt":1795298400,"n":"battery.voltage","u":"V","v":12.625},
//	 {"n":"ambient.temperature","u":"Cel","v":31.4,"t":10,"flags":1}]
//
// Its fields:
//
//   - bn (base name, first record): "urn:dev:karana:<device>:" followed by
//     the stream's tag values in the order of their keys, each ending in
//     ':' (tags {customer="acme", site="kisumu-3"} give
//     "urn:dev:karana:site-042:acme:kisumu-3:"). Names may only hold
//     letters, digits and - : . / _, so a senml stream's tag values are
//     checked for that when the config loads.
//   - n: the series name; bn+n is the full name.
//   - bt (first record): the first reading's time in whole Unix seconds;
//     t: each reading's time relative to bt, in seconds (exact to the
//     nanosecond, left out when 0). Beware RFC 8428's rule that a time below
//     2^28 (before 1978-07-05) means "relative to now": a box without RTC
//     whose clock starts in 1970 writes such times, and they carry
//     "flags":1 (see below).
//   - u: the unit, mapped to the SenML units registry where karana-edge
//     knows it: °C → Cel, % → %, %RH → %RH, V, A, W, Hz, Pa, J, ... and a
//     few units that only exist there as SenML base units with a factor;
//     for those the value is converted exactly (from its shortest decimal
//     form) along with the unit: Wh → J (×3600), kWh → J (×3.6e6), hPa and
//     mbar → Pa (×100), kPa → Pa (×1000), bar → Pa (×1e5), mV → V (×0.001),
//     mA → A (×0.001), kW → W (×1000), kVA → VA (×1000), ms → s (×0.001),
//     min → s (×60), h → s (×3600), ppm → / (×1e-6). Any other unit is
//     written as is (not a registered SenML unit; a recipient treats it as
//     unknown); no unit, no "u".
//   - v: the value. NaN and ±Inf have no JSON form: such a reading is left
//     out of the pack.
//   - flags: an extension field (RFC 8428 §4.4: a field a recipient does not
//     know and whose name does not end in '_' is ignored), written only when
//     non-zero, as in the json format: 1 = the clock was not synchronized
//     when the reading was sampled, 2 = re-stamped once it synced, 4 = an
//     implausible date.
//   - seq, first_seq..last_seq and dropped have no place in SenML and are
//     not sent; use json where the backend needs gap detection.
type SenML struct{}

func init() {
	RegisterOptions("senml", SenML{}, nil, senmlTagsChecked(SenML{}))
}

// senmlTagsChecked configures f for a stream whose tags can go into a
// base name: senml takes no options, but not every tag.
func senmlTagsChecked(f Formatter) func(*NoOptions, map[string]string) (Formatter, error) {
	return func(_ *NoOptions, tags map[string]string) (Formatter, error) {
		if err := checkSenMLTags(tags); err != nil {
			return nil, err
		}
		return f, nil
	}
}

// ContentType implements Formatter.
func (SenML) ContentType() string { return "application/senml+json" }

// checkSenMLTags checks that the stream's tags can go into a base name.
func checkSenMLTags(tags map[string]string) error {
	var errs config.FieldErrors
	for _, k := range sortedKeys(tags) {
		if v := tags[k]; !senmlNameChars(v) {
			errs.Add(config.JoinKey(KeyTags, k), "value %q cannot go into a SenML base name: use letters, digits, '-', ':', '.', '/' and '_'", v)
		}
	}
	return errs.Err()
}

// Format implements Formatter.
func (f SenML) Format(b *Batch) ([]byte, error) { return f.AppendFormat(nil, b) }

// AppendFormat appends the pack for b to dst.
func (SenML) AppendFormat(dst []byte, b *Batch) ([]byte, error) {
	bn, err := senmlBaseName(b)
	if err != nil {
		return dst, err
	}
	if n := 64 + 64*len(b.Readings); cap(dst)-len(dst) < n {
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	var bt int64
	first := true
	dst = append(dst, '[')
	for i := range b.Readings {
		r := &b.Readings[i]
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		if first {
			bt = r.Time.Unix()
			dst = append(dst, `{"bn":`...)
			dst = appendJSONString(dst, bn)
			dst = append(dst, `,"bt":`...)
			dst = strconv.AppendInt(dst, bt, 10)
			dst = append(dst, ',')
		} else {
			dst = append(dst, ",{"...)
		}
		first = false
		unit, v := senmlUnit(r.Unit, r.Value)
		dst = append(dst, `"n":`...)
		dst = appendJSONString(dst, r.Name)
		if unit != "" {
			dst = append(dst, `,"u":`...)
			dst = appendJSONString(dst, unit)
		}
		dst = append(dst, `,"v":`...)
		dst = appendJSONFloat(dst, v)
		if sec, nsec := r.Time.Unix()-bt, r.Time.Nanosecond(); sec != 0 || nsec != 0 {
			dst = append(dst, `,"t":`...)
			dst = appendSeconds(dst, sec, nsec)
		}
		if r.Flags != 0 {
			dst = append(dst, `,"flags":`...)
			dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// senmlBaseName is "urn:dev:karana:<device>:" and the tag values in key
// order, each followed by ':'.
func senmlBaseName(b *Batch) (string, error) {
	var sb strings.Builder
	sb.WriteString("urn:dev:karana:")
	sb.WriteString(b.Device)
	sb.WriteByte(':')
	for _, k := range sortedKeys(b.Tags) {
		sb.WriteString(b.Tags[k])
		sb.WriteByte(':')
	}
	bn := sb.String()
	if !senmlNameChars(b.Device) || !senmlNameChars(bn) {
		return "", fmt.Errorf("senml: base name %q: only letters, digits, '-', ':', '.', '/' and '_' may appear in a SenML name", bn)
	}
	return bn, nil
}

// senmlNameChars reports whether s is non-empty and made only of the
// characters RFC 8428 §4.5.1 allows in names, starting with a letter or
// digit.
func senmlNameChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '-' || c == ':' || c == '.' || c == '/' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// appendSeconds writes sec seconds plus nsec nanoseconds (0 <= nsec < 1e9)
// as an exact decimal number of seconds: 10, 1.5, -0.25.
func appendSeconds(dst []byte, sec int64, nsec int) []byte {
	if sec < 0 && nsec > 0 {
		sec, nsec = sec+1, 1e9-nsec // -1 s + 0.75 s = -0.25 s
		if sec == 0 {
			dst = append(dst, '-')
		}
	}
	dst = strconv.AppendInt(dst, sec, 10)
	if nsec == 0 {
		return dst
	}
	var frac [10]byte
	frac[0] = '.'
	for i, n := 9, nsec; i >= 1; i-- {
		frac[i] = byte('0' + n%10)
		n /= 10
	}
	end := 10
	for frac[end-1] == '0' {
		end--
	}
	return append(dst, frac[:end]...)
}

// senmlUnitMap maps units karana-edge drivers write to SenML registered
// units (RFC 8428 §12.1 and RFC 8798), with the decimal factor that
// converts the value, "" for none.
var senmlUnitMap = map[string]struct{ unit, factor string }{
	"°C": {"Cel", ""}, "degC": {"Cel", ""}, "Cel": {"Cel", ""}, "K": {"K", ""},
	"%": {"%", ""}, "%RH": {"%RH", ""},
	"V": {"V", ""}, "A": {"A", ""}, "W": {"W", ""}, "J": {"J", ""}, "Hz": {"Hz", ""},
	"Pa": {"Pa", ""}, "VA": {"VA", ""}, "var": {"var", ""}, "Ohm": {"Ohm", ""}, "Ω": {"Ohm", ""},
	"m": {"m", ""}, "s": {"s", ""}, "kg": {"kg", ""}, "m/s": {"m/s", ""}, "m3": {"m3", ""},
	"m3/s": {"m3/s", ""}, "W/m2": {"W/m2", ""}, "W/m²": {"W/m2", ""}, "lx": {"lx", ""},
	"dB": {"dB", ""}, "dBW": {"dBW", ""}, "count": {"count", ""}, "S/m": {"S/m", ""}, "B": {"B", ""},
	"Wh": {"J", "3600"}, "kWh": {"J", "3600000"},
	"hPa": {"Pa", "100"}, "mbar": {"Pa", "100"}, "kPa": {"Pa", "1000"}, "bar": {"Pa", "100000"},
	"mV": {"V", "0.001"}, "mA": {"A", "0.001"}, "kW": {"W", "1000"}, "kVA": {"VA", "1000"},
	"ms": {"s", "0.001"}, "min": {"s", "60"}, "h": {"s", "3600"},
	"ppm": {"/", "0.000001"},
}

// senmlUnit returns the SenML unit for unit and v converted to it.
func senmlUnit(unit string, v float64) (string, float64) {
	m, ok := senmlUnitMap[unit]
	if !ok {
		return unit, v
	}
	if m.factor == "" {
		return m.unit, v
	}
	return m.unit, scaleDecimal(v, m.factor)
}

// scaleDecimal multiplies the shortest decimal form of v (what every other
// format writes) by the decimal factor exactly and rounds once, so that
// 1013.2 hPa becomes 101320 Pa, not 101320.00000000001.
func scaleDecimal(v float64, factor string) float64 {
	var x, f big.Rat
	if _, ok := x.SetString(strconv.FormatFloat(v, 'g', -1, 64)); !ok {
		return v * mustFloat(factor)
	}
	f.SetString(factor)
	out, _ := x.Mul(&x, &f).Float64()
	return out
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
