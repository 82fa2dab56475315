package config

import (
	"strings"
	"testing"
)

func TestStringsAcceptsOneStringOrAList(t *testing.T) {
	one, err := Strings("5MiB/day", "budget", "5MiB/day")
	if err != nil || len(one) != 1 || one[0] != "5MiB/day" {
		t.Fatalf("one string: %q, %v", one, err)
	}
	two, err := Strings([]any{"5MiB/day", "100MiB/month"}, "budget", "5MiB/day")
	if err != nil || strings.Join(two, ",") != "5MiB/day,100MiB/month" {
		t.Fatalf("a list: %q, %v", two, err)
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{[]any{"5MiB/day", int64(3)}, "budget[1]: want a string such as \"5MiB/day\", got int64"},
		{int64(3), "budget: want \"5MiB/day\" or a list of such strings, got int64"},
	} {
		if _, err := Strings(c.v, "budget", "5MiB/day"); err == nil || err.Error() != c.want {
			t.Errorf("Strings(%v) = %v, want %q", c.v, err, c.want)
		}
	}
}
