package i2cbus

import (
	"context"
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus/i2cbustest"
)

func TestDeviceOpensOnceAndReopensAfterClose(t *testing.T) {
	pb1 := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x40, W: []byte{0x00}, R: []byte{0x12}}}, DontPanic: true}
	pb2 := &i2ctest.Playback{DontPanic: true}
	op := &i2cbustest.Opener{Buses: []i2c.BusCloser{pb1, pb2}}
	d := &Device{Driver: "chip", Bus: "1", Addr: 0x40, Opener: op.Open}

	if d.Dev() != nil {
		t.Error("Dev before Open must be nil")
	}
	_, fresh, err := d.open()
	if err != nil || !fresh {
		t.Fatalf("first Open: fresh=%v err=%v; want fresh", fresh, err)
	}
	var r [1]byte
	if err := d.Dev().Tx([]byte{0x00}, r[:]); err != nil || r[0] != 0x12 {
		t.Fatalf("Tx through Dev: %v %#x", err, r[0])
	}
	if _, fresh, _ := d.open(); fresh {
		t.Error("second Open reported a fresh bus while it was open")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v (Playback left ops?)", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, fresh, err := d.open(); err != nil || !fresh {
		t.Errorf("Open after Close: fresh=%v err=%v; want a fresh bus", fresh, err)
	}
	if op.Opens() != 2 || op.Names[0] != "1" {
		t.Errorf("opened %v", op.Names)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

func TestDeviceCloseReportsUnplayedOps(t *testing.T) {
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x40, W: []byte{1}}}, DontPanic: true}
	d := &Device{Driver: "chip", Bus: "1", Addr: 0x40, Opener: (&i2cbustest.Opener{Buses: []i2c.BusCloser{pb}}).Open}
	if _, _, err := d.open(); err != nil {
		t.Fatal(err)
	}
	err := d.Close()
	if err == nil || !strings.HasPrefix(err.Error(), "chip on i2c bus 1 addr 0x40: close: ") {
		t.Errorf("Close = %v; want the Playback's complaint, named", err)
	}
}

func TestNoAnswerBeforeFirstSuccessIsNotFitted(t *testing.T) {
	dead := &i2cbustest.Dead{}
	d := &Device{Driver: "ina219", Bus: "1", Addr: 0x40, Opener: (&i2cbustest.Opener{Buses: []i2c.BusCloser{dead}}).Open}
	if _, _, err := d.open(); err != nil {
		t.Fatal(err)
	}
	txErr := d.Dev().Tx([]byte{0}, nil)
	err := d.Err("init", txErr)
	want := "ina219 on i2c bus 1 addr 0x40: no answer (is it wired, powered, and is the address right?): sysfs-i2c: remote I/O error"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) || !errors.Is(err, i2cbustest.NACK) {
		t.Errorf("want ErrNotFitted and the NACK in the chain: %v", err)
	}

	// Once the chip has answered, a NACK is a failure (it was unplugged).
	d.OK()
	err = d.Err("read", d.Dev().Tx([]byte{0}, nil))
	if errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a chip that answered before is failing, not missing")
	}
	var de *Error
	if !errors.As(err, &de) || !de.NoAnswer {
		t.Errorf("want an *Error with NoAnswer: %#v", err)
	}
}

func TestErrAddsTheBusCauseADriverDropped(t *testing.T) {
	f := &i2cbustest.Fail{BusCloser: &i2ctest.Playback{DontPanic: true}, At: 0, Err: i2cbustest.NACK}
	d := &Device{Driver: "ina219", Bus: "1", Addr: 0x41, Opener: (&i2cbustest.Opener{Buses: []i2c.BusCloser{f}}).Open}
	d.OK()
	if _, _, err := d.open(); err != nil {
		t.Fatal(err)
	}
	// A periph driver that returns a sentinel instead of the bus error.
	sentinel := errors.New("failed to read shunt voltage")
	if d.Dev().Tx([]byte{1}, make([]byte, 2)) == nil {
		t.Fatal("the Fail wrapper did not fail")
	}
	err := d.Err("read", sentinel)
	want := "ina219 on i2c bus 1 addr 0x41: no answer (is it wired, powered, and is the address right?): failed to read shunt voltage: sysfs-i2c: remote I/O error"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, sentinel) || !errors.Is(err, i2cbustest.NACK) {
		t.Error("both the driver's error and the bus cause must be in the chain")
	}
	// The cause is consumed: a later, unrelated error does not carry it.
	if err := d.Err("read", errors.New("bad chip id 0x12")); strings.Contains(err.Error(), "remote I/O") {
		t.Errorf("stale cause reused: %v", err)
	}
	// An error already wrapped passes through unchanged.
	if again := d.Err("read", err); again != err {
		t.Errorf("rewrapped: %v", again)
	}
	// A new read (Open) starts without a cause: a plain error stays plain.
	if d.Dev().Tx([]byte{2}, nil) == nil {
		t.Fatal("the empty Playback accepted a transaction")
	}
	if _, _, err := d.open(); err != nil {
		t.Fatal(err)
	}
	err = d.Err("read", errors.New("plain"))
	if err.Error() != "ina219 on i2c bus 1 addr 0x41: read: plain" {
		t.Errorf("plain error: %v", err)
	}
}

func TestOpenFailureNamesDeviceAndBus(t *testing.T) {
	op := &i2cbustest.Opener{Err: classifyOpen("1", i2cbustest.ErrNoBus)}
	d := &Device{Driver: "bme280", Bus: "1", Addr: 0x76, Opener: op.Open}
	_, _, err := d.open()
	want := `bme280 on i2c bus 1 addr 0x76: i2c bus "1": not found (is I2C enabled? dtparam=i2c_arm=on in /boot/firmware/config.txt)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, sensors.ErrNotFitted) {
		t.Error("a missing bus must match sensors.ErrNotFitted")
	}
	if d.Dev() != nil {
		t.Error("Dev must be nil after a failed Open")
	}
}

func TestIsNoAnswer(t *testing.T) {
	for msg, want := range map[string]bool{
		"sysfs-i2c: remote I/O error":          true,
		"sysfs-i2c: no such device or address": true,
		"sysfs-i2c: connection timed out":      false,
		"i2ctest: unexpected write":            false,
	} {
		if got := IsNoAnswer(errors.New(msg)); got != want {
			t.Errorf("IsNoAnswer(%q) = %v", msg, got)
		}
	}
	if IsNoAnswer(nil) {
		t.Error("nil is not a NACK")
	}
}

func TestOptionsValidate(t *testing.T) {
	valid := Range(0x40, 0x4f)
	cases := []struct {
		o    Options
		keys []string
		msg  string
	}{
		{Options{Bus: "1", Address: 0x40}, nil, ""},
		{Options{Bus: "I2C1", Address: 0x4f}, nil, ""},
		{Options{Bus: "", Address: 0x40}, []string{"bus"}, `on a Raspberry Pi the header bus is "1"`},
		{Options{Bus: "1 2", Address: 0x40}, []string{"bus"}, "invalid bus name"},
		{Options{Bus: "1", Address: 0x50}, []string{"address"}, "0x50 is not an address the INA219 can have: use 0x40-0x4f (set by the A0 and A1 pins)"},
		{Options{Bus: "", Address: -3}, []string{"bus", "address"}, "-3 is not"},
	}
	for _, c := range cases {
		var errs config.FieldErrors
		c.o.Validate(&errs, "INA219", valid, "set by the A0 and A1 pins")
		var keys []string
		for _, e := range errs {
			keys = append(keys, e.Key)
		}
		if strings.Join(keys, ",") != strings.Join(c.keys, ",") {
			t.Errorf("%+v: keys %v, want %v (%v)", c.o, keys, c.keys, errs)
		}
		if c.msg != "" && !strings.Contains(errs.Error(), c.msg) {
			t.Errorf("%+v: %q lacks %q", c.o, errs.Error(), c.msg)
		}
	}
	if (Options{Bus: "1"}).BusName() != "1" {
		t.Error("BusName")
	}
}

func TestAddrList(t *testing.T) {
	for _, c := range []struct {
		in   []uint16
		want string
	}{
		{[]uint16{0x76, 0x77}, "0x76 or 0x77"},
		{[]uint16{0x48}, "0x48"},
		{Range(0x40, 0x43), "0x40-0x43"},
		{append(Range(0x18, 0x1f), 0x30), "0x18-0x1f or 0x30"},
		{nil, "no address"},
	} {
		if got := AddrList(c.in); got != c.want {
			t.Errorf("AddrList(%x) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRound(t *testing.T) {
	if got := Round(1006.53271484375, 4); got != 1006.5327 {
		t.Errorf("Round = %v", got)
	}
	if got := Round(0.1+0.2, 2); got != 0.3 {
		t.Errorf("Round = %v", got)
	}
}

func TestAddrDecodesAndPrintsInHex(t *testing.T) {
	doc, root, err := config.Parse("t.toml", []byte("bus = \"1\"\naddress = 0x41\n"))
	if err != nil {
		t.Fatal(err)
	}
	var o Options
	root.DecodeStrict(&o)
	if err := doc.Err(); err != nil {
		t.Fatal(err)
	}
	if o.Address != 0x41 {
		t.Errorf("address %d", o.Address)
	}
	var b strings.Builder
	if err := config.WriteKeys(&b, &o); err != nil {
		t.Fatal(err)
	}
	if b.String() != "bus = \"1\"\naddress = 0x41\n" {
		t.Errorf("written as %q", b.String())
	}
}

func TestRecoveredForgetsTheRetriedFailure(t *testing.T) {
	f := &i2cbustest.Fail{BusCloser: &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x44, R: []byte{1}}}, DontPanic: true}, At: 0, Err: i2cbustest.NACK}
	d := &Device{Driver: "sht3x", Bus: "1", Addr: 0x44, Opener: (&i2cbustest.Opener{Buses: []i2c.BusCloser{f}}).Open}
	if _, _, err := d.open(); err != nil {
		t.Fatal(err)
	}
	var r [1]byte
	if d.Dev().Tx(nil, r[:]) == nil || d.Dev().Tx(nil, r[:]) != nil {
		t.Fatal("want a NACK, then success")
	}
	d.Recovered()
	if err := d.Err("read", errors.New("CRC mismatch")); strings.Contains(err.Error(), "remote I/O") {
		t.Errorf("the retried NACK was blamed: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// Read sets the chip up after every open, after a failed setup and after
// Reset, and at no other time; read learns whether it just did.
func TestReadSetsUpWhenNeeded(t *testing.T) {
	op := &i2cbustest.Opener{Buses: []i2c.BusCloser{&i2ctest.Playback{DontPanic: true}, &i2ctest.Playback{DontPanic: true}}}
	d := &Device{Driver: "chip", Bus: "1", Addr: 0x40, Opener: op.Open}
	setups, fail := 0, false
	setup := func(context.Context) error {
		setups++
		if fail {
			return errors.New("id mismatch")
		}
		return nil
	}
	var gotSet bool
	reads := 0
	read := func(_ context.Context, set bool) ([]sensors.Value, error) {
		reads++
		gotSet = set
		return []sensors.Value{{Field: "x", Value: 1}}, nil
	}
	step := func(name string, wantSet bool, wantSetups int) {
		t.Helper()
		before := reads
		vs, err := d.Read(context.Background(), setup, read)
		switch {
		case fail:
			if err == nil || err.Error() != "id mismatch" || reads != before {
				t.Errorf("%s: Read = %v, %v (read ran: %v); want setup's error, read not run", name, vs, err, reads != before)
			}
		case err != nil || len(vs) != 1:
			t.Fatalf("%s: Read = %v, %v", name, vs, err)
		case gotSet != wantSet:
			t.Errorf("%s: read told set = %v, want %v", name, gotSet, wantSet)
		}
		if setups != wantSetups {
			t.Errorf("%s: %d setups, want %d", name, setups, wantSetups)
		}
	}
	step("first read", true, 1)
	step("second read", false, 1)
	d.Reset()
	step("after Reset", true, 2)
	fail = true
	d.Reset()
	step("failing setup", true, 3)
	fail = false
	step("after a failed setup", true, 4)
	step("set up", false, 4)
	if err := d.Setup(context.Background(), setup); err != nil || setups != 5 {
		t.Fatalf("Setup: %v after %d", err, setups)
	}
	step("after Setup", false, 5)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	step("after Close", true, 6)
	if op.Opens() != 2 {
		t.Errorf("bus opened %d times, want 2", op.Opens())
	}

	// A read whose context has ended opens nothing and says so.
	d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := reads
	_, err := d.Read(ctx, setup, read)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "chip on i2c bus 1 addr 0x40: read: ") || op.Opens() != 2 || reads != before {
		t.Errorf("Read on an ended context = %v (opened %d)", err, op.Opens())
	}
	// Without a setup only the open stands before read; here it fails.
	if _, err := d.Read(context.Background(), nil, read); err == nil || reads != before {
		t.Errorf("Read(nil setup) with no bus left = %v; want the open error", err)
	}
}
