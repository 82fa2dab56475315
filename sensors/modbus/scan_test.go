package modbus

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	d := newDevice(t)
	sunspecImage(d, 1, 40000)
	d.set(2, input, 0x0046, 0x4248, 0x0000) // an Eastron meter's 50.0 Hz
	d.set(4, input, 0x3004, 2400)           // an EPEver's 24.00 V battery rating
	o := DefaultOptions()
	o.URL = d.url
	var asked []int
	found, err := Scan(context.Background(), ScanOptions{Options: o, Units: []int{1, 2, 3, 4}}, func(u int) { asked = append(asked, u) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(asked, []int{1, 2, 3, 4}) {
		t.Errorf("asked %v", asked)
	}
	if len(found) != 3 || found[0].Unit != 1 || found[1].Unit != 2 || found[2].Unit != 4 {
		t.Fatalf("found %+v, want units 1, 2 and 4", found)
	}
	if !strings.Contains(found[0].SunSpec, `maker "Fronius"`) {
		t.Errorf("unit 1: %+v", found[0])
	}
	if got := strings.Join(found[1].Likely, "; "); got != "eastron-sdm120 (input 0x0046 = 50); eastron-sdm630 (input 0x0046 = 50)" {
		t.Errorf("unit 2 likely: %q", got)
	}
	if got := strings.Join(found[2].Likely, "; "); got != "epever-tracer (input 0x3004 = 24)" {
		t.Errorf("unit 4 likely: %q", got)
	}
}

func TestParseUnits(t *testing.T) {
	got, err := ParseUnits("1-3, 7,2")
	if err != nil || !reflect.DeepEqual(got, []int{1, 2, 3, 7}) {
		t.Errorf("ParseUnits: %v %v", got, err)
	}
	for _, bad := range []string{"", "3-1", "x", "1-300", "-1"} {
		if _, err := ParseUnits(bad); err == nil {
			t.Errorf("ParseUnits(%q) accepted", bad)
		}
	}
}
