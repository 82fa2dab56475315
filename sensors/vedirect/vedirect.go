package vedirect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "vedirect",
		Doc:  "Victron VE.Direct text protocol (MPPT chargers, BMV/SmartShunt, Phoenix inverters) on a serial port, 19200 8N1",
	}, DefaultOptions, New)
}

// StaleAfter is how long the newest good block stays current: a device
// sends one a second, so three seconds without one means the cable, the
// port or the device is gone.
const StaleAfter = 3 * time.Second

// Options are the vedirect driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Port is the serial device: the VE.Direct USB cable's /dev/ttyUSB0
	// (better its /dev/serial/by-id/… name) or the Pi's UART /dev/serial0.
	Port string `toml:"port"`
	// Labels selects the labels stored as series ("V", "PPV", "H20"), plus
	// "bad_blocks"; empty: every known numeric label the device sends, and
	// bad_blocks. (Not "fields": that key holds every sensor's per-field
	// calibration tables.)
	Labels []string `toml:"labels"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Port: "/dev/ttyUSB0"} }

// SerialPort implements sensors.SerialPortUser, so that check can warn
// about a port that is the login console.
func (o *Options) SerialPort() string { return o.Port }

// New validates opts and returns the sensor; the port is opened by the
// first Read.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	switch {
	case strings.TrimSpace(o.Port) == "":
		errs.Add("port", `must be set: the serial device, e.g. "/dev/ttyUSB0" or "/dev/serial/by-id/usb-VictronEnergy_BV_VE_Direct_cable_…"`)
	case !filepath.IsAbs(o.Port) || strings.ContainsAny(o.Port, "\x00\n"):
		errs.Add("port", "must be an absolute device path such as \"/dev/ttyUSB0\", got %q", o.Port)
	}
	seen := map[string]bool{}
	for i, f := range o.Labels {
		_, known := labels[f]
		switch {
		case !known && f != BadBlocks:
			hint := ""
			if s := config.Suggest(f, append(KnownLabels(), BadBlocks)); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs.Add(config.IndexKey("labels", i), "%q is not a numeric VE.Direct label%s: use %s or %q (PID, SER# and FW are logged, not stored)", f, hint, strings.Join(KnownLabels(), ", "), BadBlocks)
		case seen[f]:
			errs.Add(config.IndexKey("labels", i), "%q is listed twice", f)
		}
		seen[f] = true
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	o.Labels = slices.Clone(o.Labels)
	return &Sensor{o: o, open: openSerial, now: time.Now, log: slog.Default(), retry: firstRetry}, nil
}

// openSerial opens a VE.Direct port: 19200 baud, 8 data bits, no parity,
// one stop bit. The read timeout lets the reader notice that it was stopped
// even on a driver that does not wake a blocked read on close.
func openSerial(port string) (io.ReadCloser, error) {
	p, err := serial.Open(port, &serial.Mode{BaudRate: 19200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, err
	}
	if err := p.SetReadTimeout(time.Second); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// entry is the newest good value of one label.
type entry struct {
	value string
	at    time.Time
}

// Sensor reads one VE.Direct port. A goroutine started by the first Read
// keeps reading it, reopening it with backoff when it fails, and keeps the
// newest value of each label from good blocks; Read takes what is current.
type Sensor struct {
	o    Options
	open func(port string) (io.ReadCloser, error)
	now  func() time.Time
	log  *slog.Logger
	// retry is the first wait before reopening a port that failed; it
	// doubles up to maxRetry while the port stays away.
	retry time.Duration

	mu       sync.Mutex
	stop     context.CancelFunc // nil: no reader running
	done     chan struct{}      // closed when the reader has returned
	started  time.Time          // the reader's start
	lastGood time.Time          // the newest good block
	latest   map[string]entry
	notify   chan struct{} // closed at the next good block
	bad      uint64        // blocks dropped since the sensor was made
	badWhy   string        // the last drop's reason
	portErr  error         // the last open or read error; nil after a good block
	answered bool          // a good block arrived since the process started
	ident    identity
	cur      io.Closer // the open port, closed by Close to wake the reader
	warned   map[string]bool
}

// identity is what a device says about itself; logged once per change.
type identity struct{ pid, serial, fw string }

// Read returns the fields of the newest good blocks, waiting for the first
// after the port is opened. No good block for StaleAfter is an error naming
// the port.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	if s.stop == nil {
		s.startLocked()
	}
	for {
		now := s.now()
		if !s.lastGood.IsZero() && now.Sub(s.lastGood) <= StaleAfter {
			vals, err := s.valuesLocked(now)
			s.mu.Unlock()
			return vals, err
		}
		since := s.started
		if s.lastGood.After(since) {
			since = s.lastGood
		}
		// No such device and it never answered: say so now rather than
		// after StaleAfter (an optional charger not on this box, a typo).
		absent := !s.answered && errors.Is(s.portErr, fs.ErrNotExist)
		if wait := StaleAfter - now.Sub(since); wait > 0 && !absent {
			ch := s.notify
			s.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-ch:
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				s.mu.Lock()
				err := s.staleErrLocked(now, ctx.Err())
				s.mu.Unlock()
				return nil, err
			}
			t.Stop()
			s.mu.Lock()
			continue
		}
		err := s.staleErrLocked(now, nil)
		s.mu.Unlock()
		return nil, err
	}
}

// staleErrLocked says why there is no current block.
func (s *Sensor) staleErrLocked(now time.Time, cause error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "vedirect on %s: no good text block", s.o.Port)
	if s.lastGood.IsZero() {
		fmt.Fprintf(&b, " since reading started %s ago", now.Sub(s.started).Round(time.Second))
	} else {
		fmt.Fprintf(&b, " for %s", now.Sub(s.lastGood).Round(time.Second))
	}
	if s.bad > 0 {
		fmt.Fprintf(&b, "; %d blocks dropped, the last for %s (baud rate, wiring, a second reader on the port?)", s.bad, s.badWhy)
	}
	err := cause
	if s.portErr != nil {
		err = errors.Join(s.portErr, cause)
	}
	if err == nil {
		b.WriteString(": is the device powered and the VE.Direct cable plugged in?")
		return errors.New(b.String())
	}
	if !s.answered && errors.Is(s.portErr, fs.ErrNotExist) {
		// Never answered and no such device: an optional charger that is
		// not on this box.
		err = errors.Join(err, sensors.ErrNotFitted)
	}
	return fmt.Errorf("%s: %w", b.String(), err)
}

// valuesLocked builds the read from the labels seen within StaleAfter: a
// BMV sends its history (H1–H18) in a block of its own, so one read merges
// the blocks of the last seconds; a label the device stopped sending drops
// out rather than repeating an old number.
func (s *Sensor) valuesLocked(now time.Time) ([]sensors.Value, error) {
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	want := s.o.Labels
	if len(want) == 0 {
		want = defaultFields(s.latest)
	}
	vals := make([]sensors.Value, 0, len(want))
	for _, name := range want {
		if name == BadBlocks {
			vals = append(vals, sensors.Value{Field: BadBlocks, Value: float64(s.bad)})
			continue
		}
		e, ok := s.latest[name]
		if !ok || now.Sub(e.at) > StaleAfter {
			continue
		}
		v, ok, err := convert(name, labels[name], e.value)
		if err != nil {
			// The checksum held, so the device sent it: a format this
			// driver does not know. Leave that label out, keep the rest.
			if !s.warned[name] {
				s.warned[name] = true
				s.log.Warn("vedirect: value not in the protocol's format; left out", "port", s.o.Port, "err", err)
			}
			continue
		}
		if ok {
			vals = append(vals, sensors.Value{Field: name, Value: v, Unit: labels[name].unit})
		}
	}
	return vals, nil
}

// defaultFields are the known labels the device sent, sorted, then
// bad_blocks.
func defaultFields(latest map[string]entry) []string {
	out := make([]string, 0, len(latest)+1)
	for _, l := range KnownLabels() {
		if _, ok := latest[l]; ok {
			out = append(out, l)
		}
	}
	return append(out, BadBlocks)
}

// Identity is the device's product id, serial number and firmware, for
// `karana-edge read`; "" before the first good block.
func (s *Sensor) Identity() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ident.String()
}

func (id identity) String() string {
	var parts []string
	if id.pid != "" {
		parts = append(parts, "PID "+id.pid)
	}
	if id.serial != "" {
		parts = append(parts, "SER# "+id.serial)
	}
	if id.fw != "" {
		parts = append(parts, "FW "+id.fw)
	}
	return strings.Join(parts, ", ")
}

// Close stops the reader and closes the port; the next Read opens it again.
func (s *Sensor) Close() error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	cur := s.cur
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	if cur != nil {
		_ = cur.Close() // the reader closes it too; a second close is harmless
	}
	<-done
	return nil
}
