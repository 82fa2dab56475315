package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDemoShowsCutAndDrain runs the demo on a short timeline: the link is
// cut, readings pile up, and after it returns the backlog arrives with no
// unexplained gap. `make demo` is the first thing a new engineer runs; it
// must not rot.
func TestDemoShowsCutAndDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for ~10 s")
	}
	var out syncBuffer
	err := run(time.Second, 3*time.Second, 3*time.Second, 10*time.Second, "127.0.0.1:0", "127.0.0.1:0", &out)
	text := out.String()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, text)
	}
	for _, want := range []string{"link cut", "link back", "status   online", "gaps without `dropped`: 0", "the technician's page: http://127.0.0.1:"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	// After the link returns, one batch must cover the readings buffered
	// during the cut (~3 s of 4 sensors, minus the half-rate counter).
	after := text[strings.Index(text, "link back"):]
	biggest := 0
	for _, line := range strings.Split(after, "\n") {
		var first, last, count int
		if i := strings.Index(line, "raw "); i >= 0 {
			fmt.Sscanf(strings.Join(strings.Fields(line[i:]), " "), "raw seq %d..%d count %d", &first, &last, &count)
			biggest = max(biggest, count)
		}
	}
	t.Logf("largest batch after the cut: %d readings", biggest)
	if biggest < 8 {
		t.Errorf("no batch after the link came back carried the backlog (largest count %d):\n%s", biggest, text)
	}
}
