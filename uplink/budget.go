package uplink

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Data budget ([mqtt] budget): bytes are counted per UTC day and per UTC
// month and persisted in the buffer's state, so a restart does not reset
// them. Two counts: bytes_sent_*, every data batch and status document
// published, each time it is published (a resend costs again), as the
// payload plus MQTT overhead (the PUBLISH fixed header with its
// remaining-length bytes, the topic and its 2-byte length, the 2-byte
// packet id, and the 4-byte PUBACK); and wire_bytes_*, everything read and
// written at the socket (wire.go): CONNECT, SUBSCRIBE, pings, inbound
// messages, TLS handshakes and records too. The budget is spent when
// either count reaches it, which on a real link is the socket count; IP
// and TCP headers are beyond any socket's sight, so set the budget with
// some margin below the SIM's plan.
//
// Once a budget is spent only essential streams publish; the others keep
// their cursors and wait in the buffer until the next UTC day (or month).
// The check is made before each batch, so the batch that crosses the budget
// still goes out: a period overshoots by at most one batch per stream.
//
// No RTC: until NTP has set the clock, the date may lie in the past. The
// counters only ever roll forward, so a box booting in 1970 keeps counting
// into the day it had saved instead of starting a fresh budget.

// StateStore is the optional part of a Source that keeps small values
// across restarts (buffer.Ring has it). Without it the counters start from
// zero at each start.
type StateStore interface {
	GetState(key string) ([]byte, bool)
	SetState(key string, value []byte)
}

const budgetStateKey = "uplink/bytes_sent"

// Budget is [mqtt] budget: "5MiB/day", "100MiB/month", or a list holding
// one of each ("5MiB/day, 100MiB/month" in one string is accepted too, which
// is how `check` writes it back). Zero: no such budget.
type Budget struct {
	Day, Month config.Size
}

// ParseBudget parses budget entries such as "5MiB/day" and "100MiB/month".
func ParseBudget(entries ...string) (Budget, error) {
	var b Budget
	for _, e := range entries {
		for s := range strings.SplitSeq(e, ",") {
			if strings.TrimSpace(s) == "" && len(entries) == 1 && strings.TrimSpace(e) == "" {
				continue // "" is no budget
			}
			amount, per, ok := strings.Cut(strings.TrimSpace(s), "/")
			if !ok {
				return Budget{}, fmt.Errorf("budget %q: want <size>/day or <size>/month, e.g. \"5MiB/day\"", s)
			}
			z, err := config.ParseSize(amount)
			if err != nil || z <= 0 {
				return Budget{}, fmt.Errorf("budget %q: want a positive size such as 5MiB before the '/'", s)
			}
			switch strings.TrimSpace(per) {
			case "day":
				if b.Day != 0 {
					return Budget{}, fmt.Errorf("budget %q: a second daily budget", s)
				}
				b.Day = z
			case "month":
				if b.Month != 0 {
					return Budget{}, fmt.Errorf("budget %q: a second monthly budget", s)
				}
				b.Month = z
			default:
				return Budget{}, fmt.Errorf("budget %q: the period must be day or month (UTC)", s)
			}
		}
	}
	return b, nil
}

// UnmarshalTOML accepts a string or a list of strings.
func (b *Budget) UnmarshalTOML(v any) error {
	entries, err := config.Strings(v, "budget", "5MiB/day")
	if err != nil {
		return err
	}
	nb, err := ParseBudget(entries...)
	if err != nil {
		return err
	}
	*b = nb
	return nil
}

// UnmarshalText is UnmarshalTOML for one string.
func (b *Budget) UnmarshalText(t []byte) error { return b.UnmarshalTOML(string(t)) }

// MarshalText writes the budget as one string ParseBudget reads back.
func (b Budget) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b Budget) String() string {
	var parts []string
	if b.Day > 0 {
		parts = append(parts, b.Day.String()+"/day")
	}
	if b.Month > 0 {
		parts = append(parts, b.Month.String()+"/month")
	}
	return strings.Join(parts, ", ")
}

// Limits returns the daily and monthly budgets in bytes (0: none).
func (b Budget) Limits() (day, month int64, err error) {
	if b.Day < 0 || b.Month < 0 {
		return 0, 0, fmt.Errorf("budget %s: negative", b)
	}
	return int64(b.Day), int64(b.Month), nil
}

// wireBytes is what publishing payload on topic at QoS 1 costs on the
// link, PUBACK included.
func wireBytes(topic string, payload int) int64 {
	rem := 2 + len(topic) + 2 + payload
	lenBytes := 1
	for n := rem; n >= 128; n >>= 7 {
		lenBytes++
	}
	return int64(1+lenBytes+rem) + 4
}

// meter counts bytes sent and enforces the budget. Two tallies:
// sent, the MQTT estimate of each publish (wireBytes; bytes_sent_*), and
// wire, the bytes at the socket in both directions (wire.go;
// wire_bytes_*). The budget is spent when either reaches it: with a real
// socket the wire tally is the larger, as it holds everything the estimate
// does and the handshakes, pings and TLS records besides; a client without
// a socket of ours (tests) has the estimate alone.
type meter struct {
	dayLimit, monthLimit int64
	store                StateStore // nil: counters live in memory only
	now                  func() time.Time

	mu   sync.Mutex
	sent tally
	wire tally
}

// tally is one pair of counters for the current UTC day and month.
type tally struct {
	day, month   string // "2026-11-22", "2026-11": what the counters cover
	dayN, monthN int64
}

// wireStateKey keeps the socket tally beside budgetStateKey's estimate.
const wireStateKey = "uplink/wire_bytes"

func newMeter(b Budget, store StateStore, now func() time.Time) (*meter, error) {
	d, m, err := b.Limits()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	mt := &meter{dayLimit: d, monthLimit: m, store: store, now: now}
	if store != nil {
		if v, ok := store.GetState(budgetStateKey); ok {
			mt.sent.restore(string(v))
		}
		if v, ok := store.GetState(wireStateKey); ok {
			mt.wire.restore(string(v))
		}
	}
	return mt, nil
}

// restore reads "2026-11-22 123 2026-11 4567"; a damaged value starts from
// zero (the budget is a cost target, not data).
func (c *tally) restore(v string) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return
	}
	dn, err1 := strconv.ParseInt(f[1], 10, 64)
	mn, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || dn < 0 || mn < 0 {
		return
	}
	c.day, c.dayN, c.month, c.monthN = f[0], dn, f[2], mn
}

func (c *tally) String() string { return fmt.Sprintf("%s %d %s %d", c.day, c.dayN, c.month, c.monthN) }

// roll moves the counters forward to t's UTC day and month; never back
// (see the clock note above).
func (c *tally) roll(t time.Time) {
	if d := t.Format("2006-01-02"); d > c.day {
		c.day, c.dayN = d, 0
	}
	if mo := t.Format("2006-01"); mo > c.month {
		c.month, c.monthN = mo, 0
	}
}

func (c *tally) add(n int64) {
	c.dayN += n
	c.monthN += n
}

// roll moves both tallies forward. m.mu held.
func (m *meter) roll() {
	t := m.now().UTC()
	m.sent.roll(t)
	m.wire.roll(t)
}

// add counts one publish.
func (m *meter) add(topic string, payload int) { m.addSent(wireBytes(topic, payload)) }

// addSent counts n bytes in the MQTT estimate (bytes_sent_*): publishes,
// and the update chunks the box fetches (Uplink.CountWire), so the budget
// holds them where the socket cannot be counted (ws://).
func (m *meter) addSent(n int64) {
	m.mu.Lock()
	m.roll()
	m.sent.add(n)
	v := m.sent.String()
	m.mu.Unlock()
	if m.store != nil {
		m.store.SetState(budgetStateKey, []byte(v))
	}
}

// quietStore is a StateStore that can keep a value without a commit of its
// own (buffer.Ring.SetStateQuiet).
type quietStore interface {
	SetStateQuiet(key string, value []byte)
}

// addWire counts n bytes read or written at the socket. The tally moves
// with every keepalive ping, so it is set quietly: it rides on the next
// commit readings or cursors cause, and an idle box writes nothing for it
// (a power cut loses the bytes counted since; the day's figure is then a
// few pings low).
func (m *meter) addWire(n int64) {
	m.mu.Lock()
	m.roll()
	m.wire.add(n)
	v := m.wire.String()
	m.mu.Unlock()
	switch st := m.store.(type) {
	case nil:
	case quietStore:
		st.SetStateQuiet(wireStateKey, []byte(v))
	default:
		st.SetState(wireStateKey, []byte(v))
	}
}

// spent reports whether a budget is used up and, if so, how long until the
// next UTC day or month gives room again.
func (m *meter) spent() (bool, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	t := m.now().UTC()
	day0 := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case m.monthLimit > 0 && max(m.sent.monthN, m.wire.monthN) >= m.monthLimit:
		return true, time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).Sub(t)
	case m.dayLimit > 0 && max(m.sent.dayN, m.wire.dayN) >= m.dayLimit:
		return true, day0.AddDate(0, 0, 1).Sub(t)
	}
	return false, 0
}

// BudgetStats are the byte counters of the status document.
type BudgetStats struct {
	// SentToday and SentMonth are the MQTT estimate of what was published
	// (bytes_sent_*).
	SentToday, SentMonth int64
	// WireToday and WireMonth are the bytes at the socket, both
	// directions, TLS included (wire_bytes_*): what a SIM bills, short of
	// IP and TCP headers.
	WireToday, WireMonth int64
	// LeftToday and LeftMonth are -1 without such a budget.
	LeftToday, LeftMonth int64
}

func (m *meter) stats() BudgetStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	st := BudgetStats{SentToday: m.sent.dayN, SentMonth: m.sent.monthN,
		WireToday: m.wire.dayN, WireMonth: m.wire.monthN, LeftToday: -1, LeftMonth: -1}
	if m.dayLimit > 0 {
		st.LeftToday = max(0, m.dayLimit-max(m.sent.dayN, m.wire.dayN))
	}
	if m.monthLimit > 0 {
		st.LeftMonth = max(0, m.monthLimit-max(m.sent.monthN, m.wire.monthN))
	}
	return st
}

// Budget returns the bytes sent today and this month (UTC) and the budget
// left.
func (u *Uplink) Budget() BudgetStats { return u.meter.stats() }

// budgetHold reports whether s must wait for budget, and for how long.
func (u *Uplink) budgetHold(s *stream) (bool, time.Duration) {
	if s.cfg.Essential {
		return false, 0
	}
	return u.meter.spent()
}

// budgetSpent reports whether the budget holds s, and for how long (the
// stream's answer to its send policy).
func (s *stream) budgetSpent() (bool, time.Duration) { return s.u.budgetHold(s) }

// budgetBlocks reports whether s is waiting for budget: such a stream does
// not hold lower priorities back with its backlog.
func (u *Uplink) budgetBlocks(s *stream) bool {
	held, _ := u.budgetHold(s)
	return held
}
