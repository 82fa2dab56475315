package remote

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultAllow is what a remote document may set when [remote] allow is
// empty: the sensors (add, remove, interval, calibration, enable), the
// streams and the budget.
var DefaultAllow = []string{"sensor", "stream", "budget"}

// Guarded entries: what a remote document may change only when the local
// file lists the entry in [remote] allow explicitly, even with its section
// allowed. They are checked on effective values, not keys, so replacing
// [mqtt] without a broker key (which would reset it to the default) counts
// as changing the broker.
const (
	GuardExec        = "exec"             // exec sensor drivers and local-only (exec) formatters
	GuardBroker      = "mqtt.broker"      // [mqtt] broker, client_id, topic_prefix
	GuardCredentials = "mqtt.credentials" // [mqtt] username, password_file
	GuardTLS         = "mqtt.tls"         // [mqtt] ca_file, cert_file, key_file
	GuardRemote      = "remote"           // the [remote] section itself
)

var guards = []string{GuardExec, GuardBroker, GuardCredentials, GuardTLS, GuardRemote}

// Sections are the top-level sections a document may carry.
var Sections = []string{"budget", "buffer", "device", "log", "mqtt", "remote", "sensor", "stream"}

// CheckAllowEntry validates one [remote] allow entry.
func CheckAllowEntry(e string) error {
	if slices.Contains(Sections, e) || slices.Contains(guards, e) {
		return nil
	}
	return fmt.Errorf("unknown entry %q: use section names (%s) or guarded entries (%s)",
		e, strings.Join(Sections, ", "), strings.Join(guards, ", "))
}

// Policy says what a remote document may set.
type Policy struct{ allow []string }

// NewPolicy builds the policy of an allow list (DefaultAllow when empty).
func NewPolicy(allow []string) Policy {
	if len(allow) == 0 {
		allow = DefaultAllow
	}
	return Policy{allow: slices.Clone(allow)}
}

// Section reports whether a document may carry the top-level section.
// "remote" is a guard as well as a section: it needs its explicit entry.
func (p Policy) Section(name string) bool { return slices.Contains(p.allow, name) }

// Guard reports whether the guarded entry is explicitly allowed.
func (p Policy) Guard(name string) bool { return slices.Contains(p.allow, name) }

// Allow is the effective allow list.
func (p Policy) Allow() []string { return slices.Clone(p.allow) }
