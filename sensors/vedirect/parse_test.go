package vedirect

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// parseAll feeds stream in chunks of size n (0: whole) and collects results.
func parseAll(stream []byte, n int) []Result {
	var p Parser
	var out []Result
	emit := func(r Result) { out = append(out, r) }
	if n <= 0 {
		n = len(stream)
	}
	for len(stream) > 0 {
		k := min(n, len(stream))
		p.Feed(stream[:k], emit)
		stream = stream[k:]
	}
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func wantResults(t *testing.T, got []Result, want ...Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d blocks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Bad != want[i].Bad || !reflect.DeepEqual(got[i].Fields, want[i].Fields) {
			t.Errorf("block %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseDocumentBlocks(t *testing.T) {
	stream := cat(textBlock(mpptFields...), textBlock(bmvFields...), textBlock(bmvHistory...), textBlock(inverterFields...))
	for _, chunk := range []int{0, 1, 7, 64} {
		wantResults(t, parseAll(stream, chunk),
			Result{Fields: pairs(mpptFields...)}, Result{Fields: pairs(bmvFields...)},
			Result{Fields: pairs(bmvHistory...)}, Result{Fields: pairs(inverterFields...)})
	}
}

// The checksums a real BMV-702 computed hold under the parser's framing,
// including a checksum byte that is ':'.
func TestParseRecordedBMV(t *testing.T) {
	got := parseAll([]byte(recordedBMV+recordedColonChecksum+recordedBMV), 5)
	main := pairs("PID", "0x203", "V", "12065", "I", "-7625", "P", "-92", "CE", "-65473", "SOC", "839", "TTG", "942",
		"Alarm", "OFF", "Relay", "OFF", "AR", "0", "BMV", "700", "FW", "0308")
	hist := pairs("H1", "-149322", "H2", "-82854", "H3", "0", "H4", "0", "H5", "0", "H6", "-5526294", "H7", "11733",
		"H8", "16161", "H9", "368003", "H10", "26", "H11", "0", "H12", "0", "H17", "6843", "H18", "8527")
	colon := pairs("PID", "0x203", "V", "12164", "I", "-2674", "P", "-33", "CE", "-65887", "SOC", "837", "TTG", "2199",
		"Alarm", "OFF", "Relay", "OFF", "AR", "0", "BMV", "700", "FW", "0308")
	wantResults(t, got, Result{Fields: main}, Result{Fields: hist}, Result{Fields: colon}, Result{Fields: main}, Result{Fields: hist})
}

func TestParseCorruptedChecksum(t *testing.T) {
	bad := textBlock(mpptFields...)
	i := bytes.Index(bad, []byte("V\t12810"))
	bad[i+2] = '9' // 92810 mV: one digit changed on the wire
	stream := cat(textBlock(bmvFields...), bad, textBlock(inverterFields...))
	wantResults(t, parseAll(stream, 3),
		Result{Fields: pairs(bmvFields...)}, Result{Bad: "checksum"}, Result{Fields: pairs(inverterFields...)})
}

// A HEX frame between blocks, between fields, inside a label and inside a
// value leaves the block and its checksum intact.
func TestParseHexInterleaved(t *testing.T) {
	blk := textBlock(mpptFields...)
	for _, at := range []string{"\r\nV\t", "VPV", "\t18330", "\r\nH19", "\r\nChecksum"} {
		i := bytes.Index(blk, []byte(at)) + 2
		mixed := cat([]byte(hexFrames), blk[:i], []byte(hexFrames), blk[i:], []byte(hexFrames), textBlock(bmvFields...))
		for _, chunk := range []int{0, 1, 13} {
			wantResults(t, parseAll(mixed, chunk), Result{Fields: pairs(mpptFields...)}, Result{Fields: pairs(bmvFields...)})
		}
	}
	// As recorded: the frames right after a checksum byte.
	rec := recordedColonChecksum + hexFrames + recordedColonChecksum
	if got := parseAll([]byte(rec), 0); len(got) != 2 || got[0].Bad != "" || got[1].Bad != "" {
		t.Errorf("recorded block, HEX frames, block: %+v", got)
	}
}

// A cable pulled mid-block and plugged back in: the two halves fuse into
// one block whose checksum fails; it is dropped and the next one is good.
// After a reopen (Reset) the half block is simply forgotten.
func TestParseCutMidBlock(t *testing.T) {
	a := textBlock(mpptFields...)
	half := a[:len(a)/2]
	stream := cat(half, textBlock(bmvFields...), textBlock(inverterFields...))
	wantResults(t, parseAll(stream, 0), Result{Bad: "checksum"}, Result{Fields: pairs(inverterFields...)})

	var p Parser
	var got []Result
	emit := func(r Result) { got = append(got, r) }
	p.Feed(half, emit)
	p.Reset()
	p.Feed(textBlock(bmvFields...), emit)
	wantResults(t, got, Result{Fields: pairs(bmvFields...)})
}

func TestParseMalformed(t *testing.T) {
	noise := cat([]byte(strings.Repeat("x", 3000)), textBlock(inverterFields...))
	got := parseAll(noise, 100)
	wantResults(t, got, Result{Bad: "a block longer than 2 KiB without a checksum"}, Result{Fields: pairs(inverterFields...)})

	// A line without a tab, with a checksum that holds: still dropped.
	noTab := textBlock("V", "12000", "garbage\r\nI", "5")
	noTab = bytes.Replace(noTab, []byte("garbage\r\n"), []byte("\r\ngarbage\r\n"), 1)
	var sum byte
	for _, c := range noTab[:len(noTab)-1] {
		sum += c
	}
	noTab[len(noTab)-1] = -sum
	got = parseAll(cat(noTab, textBlock(bmvFields...)), 0)
	wantResults(t, got, Result{Bad: "a label without a value"}, Result{Fields: pairs(bmvFields...)})

	// A ':' that starts no frame: the block it fell in is dropped, the
	// parser recovers.
	junk := cat(textBlock(mpptFields[:6]...)[:10], []byte(":"+strings.Repeat("0", 1100)), textBlock(bmvFields...), textBlock(inverterFields...))
	got = parseAll(junk, 0)
	if n := len(got); n == 0 || got[n-1].Bad != "" || !reflect.DeepEqual(got[n-1].Fields, pairs(inverterFields...)) {
		t.Errorf("after a runaway HEX frame: %+v", got)
	}
}
