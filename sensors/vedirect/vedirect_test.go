package vedirect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

// fakeClock is the sensor's clock: block times and staleness follow it,
// so no assertion depends on how fast the machine is.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakePorts hands out one pipe per open; the test writes the device side.
type fakePorts struct {
	mu      sync.Mutex
	fail    []error // errors for the next opens, in order
	opens   int
	writers chan *io.PipeWriter
}

func newFakePorts(fail ...error) *fakePorts {
	return &fakePorts{fail: fail, writers: make(chan *io.PipeWriter, 8)}
}

func (f *fakePorts) open(string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return nil, err
	}
	r, w := io.Pipe()
	f.writers <- w
	return r, nil
}

// device waits for the sensor to open the port and returns its far end.
func (f *fakePorts) device(t *testing.T) *io.PipeWriter {
	t.Helper()
	select {
	case w := <-f.writers:
		return w
	case <-time.After(5 * time.Second): // a failure guard, not a timing
		t.Fatal("the sensor did not open the port")
		return nil
	}
}

func newTestSensor(t *testing.T, o Options, ports *fakePorts, clk *fakeClock) *Sensor {
	t.Helper()
	if o.Port == "" {
		o.Port = "/dev/ttyUSB7"
	}
	s, err := New("mppt", &o)
	if err != nil {
		t.Fatal(err)
	}
	s.open, s.now, s.retry = ports.open, clk.now, time.Millisecond
	s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond: the reader goroutine parses what a pipe write
// handed it after the write returned.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (s *Sensor) dropCount() uint64 { s.mu.Lock(); defer s.mu.Unlock(); return s.bad }
func (s *Sensor) hasLabel(l, v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[l].value == v
}

func write(t *testing.T, w io.Writer, parts ...[]byte) {
	t.Helper()
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

func valueMap(vals []sensors.Value) map[string]string {
	m := map[string]string{}
	for _, v := range vals {
		m[v.Field] = fmt.Sprintf("%v %s", v.Value, v.Unit)
	}
	return m
}

func startRead(s *Sensor) <-chan error {
	ch := make(chan error, 1)
	go func() { _, err := s.Read(context.Background()); ch <- err }()
	return ch
}

func TestReadMPPT(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{}, ports, clk)
	first := startRead(s) // opens the port and waits for the first good block
	dev := ports.device(t)
	// A partial block first, as when the port is opened mid-stream: not
	// counted as a bad block.
	blk := textBlock(mpptFields...)
	write(t, dev, blk[len(blk)/2:], textBlock(mpptFields...))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The document's units: mV, mA, W, 0.01 kWh; codes as numbers.
	want := map[string]string{
		"V": "12.81 V", "I": "-0.01 A", "VPV": "18.33 V", "PPV": "47 W", "IL": "1.3 A",
		"CS": "3 ", "MPPT": "2 ", "OR": "0 ", "ERR": "0 ", "LOAD": "1 ",
		"H19": "102.06 kWh", "H20": "0.12 kWh", "H21": "51 W", "H22": "0.34 kWh", "H23": "60 W", "HSDS": "279 ",
		BadBlocks: "0 ",
	}
	if got := valueMap(vals); !reflect.DeepEqual(got, want) {
		t.Errorf("values\n got %v\nwant %v", got, want)
	}
	if id := s.Identity(); id != "PID 0xA053, SER# HQ1328A1B2C, FW 150" {
		t.Errorf("identity %q", id)
	}
}

// A BMV sends its history in a second block: one read has both. "---" and
// TTG -1 are missing values, never 0.
func TestReadBMVMergesBlocksAndLeavesOutMissing(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{}, ports, clk)
	first := startRead(s)
	dev := ports.device(t)
	write(t, dev, textBlock(bmvFields...), []byte(hexFrames), textBlock(bmvHistory...))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the history block", func() bool { return s.hasLabel("H18", "8527") })
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := valueMap(vals)
	want := map[string]string{
		"V": "26.201 V", "I": "0 A", "P": "0 W", "CE": "0 Ah", "Alarm": "0 ", "Relay": "0 ", "AR": "0 ",
		"H1": "-0.102 Ah", "H2": "-0.05 Ah", "H3": "0 Ah", "H4": "3 ", "H5": "0 ", "H6": "-3.1 Ah",
		"H7": "11.733 V", "H8": "16.161 V", "H9": "368003 s", "H10": "26 ", "H11": "0 ", "H12": "0 ",
		"H17": "68.43 kWh", "H18": "85.27 kWh", BadBlocks: "0 ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values\n got %v\nwant %v", got, want)
	}
}

// A block whose checksum fails is counted and never stored: the read
// keeps the last good values and reports the count.
func TestBadChecksumDroppedAndCounted(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{Labels: []string{"V", "PPV", BadBlocks}}, ports, clk)
	first := startRead(s)
	dev := ports.device(t)
	write(t, dev, textBlock(mpptFields...))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	bad := textBlock(mpptFields...)
	i := strings.Index(string(bad), "PPV\t47")
	bad[i+4] = '9' // 97 W on the wire, checksum no longer holds
	write(t, dev, bad)
	waitFor(t, "the bad block to be counted", func() bool { return s.dropCount() == 1 })
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"V": "12.81 V", "PPV": "47 W", BadBlocks: "1 "}
	if got := valueMap(vals); !reflect.DeepEqual(got, want) {
		t.Errorf("values\n got %v\nwant %v", got, want)
	}
	// Three seconds on, with only bad blocks since: an error naming the
	// port and the count.
	clk.add(StaleAfter + time.Second)
	write(t, dev, bad)
	waitFor(t, "the second bad block", func() bool { return s.dropCount() == 2 })
	_, err = s.Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/dev/ttyUSB7") || !strings.Contains(err.Error(), "2 blocks dropped, the last for checksum") {
		t.Errorf("stale read: %v", err)
	}
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Errorf("a port that answered is not 'not fitted': %v", err)
	}
}

// The port goes away mid-block (USB cable pulled) and comes back after
// failed opens: the reader reopens by itself and the half block is lost,
// not counted and not stored.
func TestReopenAfterPortVanishes(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{Labels: []string{"V", BadBlocks}}, ports, clk)
	first := startRead(s)
	dev := ports.device(t)
	write(t, dev, textBlock(mpptFields...))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	ports.mu.Lock()
	ports.fail = []error{fs.ErrNotExist, fs.ErrNotExist}
	ports.mu.Unlock()
	half := textBlock("V", "13500", "I", "100")
	write(t, dev, half[:9])
	_ = dev.CloseWithError(errors.New("input/output error"))

	dev2 := ports.device(t) // opened again after two failures
	write(t, dev2, textBlock("V", "13650", "I", "120"))
	waitFor(t, "the block after the reopen", func() bool { return s.hasLabel("V", "13650") })
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := valueMap(vals); !reflect.DeepEqual(got, map[string]string{"V": "13.65 V", BadBlocks: "0 "}) {
		t.Errorf("after reopen: %v", got)
	}
	ports.mu.Lock()
	opens := ports.opens
	ports.mu.Unlock()
	if opens != 4 {
		t.Errorf("%d opens, want 4 (first, two failures, success)", opens)
	}
}

// A port that does not exist and never answered is not fitted; the error
// names the port and the cause.
func TestNoSuchPortIsNotFitted(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	enoent := &fs.PathError{Op: "open", Path: "/dev/ttyUSB7", Err: fs.ErrNotExist}
	ports := newFakePorts(enoent, enoent, enoent, enoent, enoent, enoent, enoent, enoent)
	s := newTestSensor(t, Options{}, ports, clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start the reader, do not wait
	_, _ = s.Read(ctx)
	waitFor(t, "an open to fail", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.portErr != nil })
	// At once, without waiting StaleAfter: the clock has not moved.
	_, err := s.Read(context.Background())
	if !errors.Is(err, sensors.ErrNotFitted) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "vedirect on /dev/ttyUSB7: no good text block since reading started 0s ago") {
		t.Errorf("err = %v", err)
	}
}

// Close stops the reader and closes the port; Read opens it again.
func TestCloseAndReopen(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{Labels: []string{"V"}}, ports, clk)
	first := startRead(s)
	dev := ports.device(t)
	write(t, dev, textBlock(mpptFields...))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("port still open after Close: write err %v", err)
	}
	clk.add(StaleAfter + time.Second)
	again := startRead(s)
	dev = ports.device(t)
	write(t, dev, textBlock("V", "12000"))
	if err := <-again; err != nil {
		t.Fatal(err)
	}
}

func TestConvert(t *testing.T) {
	for _, c := range []struct {
		label, raw string
		want       float64
		ok         bool
	}{
		{"V", "12810", 12.81, true}, {"VS", "-5", -0.005, true}, {"I", "-7625", -7.625, true},
		{"SOC", "839", 83.9, true}, {"SOC", "1000", 100, true}, {"SOC", "---", 0, false},
		{"CE", "-65473", -65.473, true}, {"TTG", "-1", 0, false}, {"TTG", "942", 942, true},
		{"DM", "-15", -1.5, true}, {"T", "---", 0, false}, {"T", "-4", -4, true},
		{"H20", "123", 1.23, true}, {"H19", "10206", 102.06, true},
		{"OR", "0x00000001", 1, true}, {"OR", "0x00000100", 256, true}, {"OR", "0X8000000A", 0x8000000A, true},
		{"LOAD", "ON", 1, true}, {"Relay", "OFF", 0, true},
		{"AC_OUT_V", "23000", 230, true}, {"AC_OUT_I", "8", 0.8, true}, {"AC_OUT_S", "184", 184, true},
	} {
		got, ok, err := convert(c.label, labels[c.label], c.raw)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("%s %q = %v, %v, %v; want %v, %v", c.label, c.raw, got, ok, err, c.want, c.ok)
		}
	}
	for _, c := range [][2]string{{"V", "12.3"}, {"OR", "1"}, {"LOAD", "1"}, {"CS", "x3"}} {
		if _, _, err := convert(c[0], labels[c[0]], c[1]); err == nil {
			t.Errorf("%s %q accepted", c[0], c[1])
		}
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Port: ""}, "port: must be set"},
		{Options{Port: "ttyUSB0"}, "port: must be an absolute device path"},
		{Options{Port: "/dev/ttyUSB0", Labels: []string{"VPW"}}, `labels[0]: "VPW" is not a numeric VE.Direct label (did you mean "VPV"?)`},
		{Options{Port: "/dev/ttyUSB0", Labels: []string{"SER#"}}, `PID, SER# and FW are logged, not stored`},
		{Options{Port: "/dev/ttyUSB0", Labels: []string{"V", "V"}}, `labels[1]: "V" is listed twice`},
	} {
		_, err := New("x", &c.o)
		var fe config.FieldErrors
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.o, err, c.want)
		}
	}
	o := DefaultOptions()
	if _, err := New("x", &o); err != nil || o.SerialPort() != "/dev/ttyUSB0" {
		t.Errorf("defaults: %v, port %q", err, o.SerialPort())
	}
}

// A value outside the protocol's format in a block whose checksum held is
// left out; the block's other values are kept. Unknown labels are not kept
// at all.
func TestMalformedValueLeftOut(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	ports := newFakePorts()
	s := newTestSensor(t, Options{}, ports, clk)
	first := startRead(s)
	dev := ports.device(t)
	write(t, dev, textBlock("V", "12.5", "I", "-10", "XYZ", "1", "LOAD", "maybe"))
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	vals, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := valueMap(vals); !reflect.DeepEqual(got, map[string]string{"I": "-0.01 A", BadBlocks: "0 "}) {
		t.Errorf("values %v", got)
	}
	s.mu.Lock()
	_, kept := s.latest["XYZ"]
	s.mu.Unlock()
	if kept {
		t.Error("an unknown label was kept")
	}
}
