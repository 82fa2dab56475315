package update

import (
	"regexp"
	"strings"
	"testing"
)

// The document checks were regexps; the functions that replaced them (a
// compiled {64} repetition cost 190 KB of heap at every start) must accept
// exactly what the regexps did.
func TestMatchersAgreeWithTheRegexps(t *testing.T) {
	sha := regexp.MustCompile(`^[0-9a-f]{64}$`)
	topic := regexp.MustCompile(`^[A-Za-z0-9_.\-/]{1,200}$`)
	hex64 := strings.Repeat("0123456789abcdef", 4)
	inputs := []string{"", "a", hex64, hex64[:63], hex64 + "0", strings.ToUpper(hex64), hex64[:63] + "g",
		"karana/updates/1.2.3/linux-arm-6/full/0", "a/b#", "a/+/b", "a b", strings.Repeat("x", 200),
		strings.Repeat("x", 201), "é", "a\n", "-._/", "A_Z.9-0/"}
	for _, in := range inputs {
		if got, want := hexSHA.MatchString(in), sha.MatchString(in); got != want {
			t.Errorf("hexSHA(%q) = %v, the regexp says %v", in, got, want)
		}
		if got, want := topicRE.MatchString(in), topic.MatchString(in); got != want {
			t.Errorf("topicRE(%q) = %v, the regexp says %v", in, got, want)
		}
	}
}
