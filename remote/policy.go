package remote

import (
	"fmt"
	"slices"
	"strings"
)

// What a remote document may set is decided key by key, where each key is
// declared: a `remote` struct tag on the field names the [remote] allow
// entry that lets a document set it (schema.go). Entries are of four
// kinds:
//
//   - a section name ("sensor", "mqtt"): the section, or the keys of it
//     tagged with it;
//   - a guarded entry (the Guard constants): needed on top of the
//     section, whatever sections are allowed, and checked on effective
//     values, so that replacing [mqtt] without a broker key (which resets
//     it to the default) counts as changing the broker;
//   - a part (PartBudget): some keys of a section, allowed without the
//     rest of it (and with it, by the section's entry);
//   - LocalOnly: never from a remote document.

// DefaultAllow is what a remote document may set when [remote] allow is
// empty: the sensors (add, remove, interval, calibration, enable), the
// streams and the budget.
var DefaultAllow = []string{"sensor", "stream", PartBudget}

// Guarded entries.
const (
	GuardExec        = "exec"             // exec sensor drivers and local-only (exec) formatters
	GuardBroker      = "mqtt.broker"      // [mqtt] broker, client_id, topic_prefix
	GuardCredentials = "mqtt.credentials" // [mqtt] username, password_file
	GuardTLS         = "mqtt.tls"         // [mqtt] ca_file, cert_file, key_file, server_name
	GuardRemote      = "remote"           // the [remote] section itself
)

// PartBudget is the link-cost keys of [mqtt] (budget, rate_limit,
// windows): a document may set them without the rest of [mqtt], which
// then stays as it is (Schema.Patches).
const PartBudget = "budget"

// LocalOnly, as a field's tag, keeps the key out of every remote
// document; a reason may follow a comma: `remote:"local,why"`.
const LocalOnly = "local"

// guard is a guarded entry: the key its refusal is reported at and what it
// covers, as the refusal says it. The keys it covers are those tagged with
// its name; exec is checked by the agent on drivers and formats instead.
type guard struct{ name, key, what string }

var guards = []guard{
	{GuardExec, "", "exec sensor drivers and formats"},
	{GuardBroker, "mqtt.broker", "the broker address, client_id and topic_prefix"},
	{GuardCredentials, "mqtt.username", "broker credentials"},
	{GuardTLS, "mqtt.ca_file", "TLS files"},
	{GuardRemote, "remote", "the [remote] section"},
}

var parts = []string{PartBudget}

func isGuard(e string) bool {
	return slices.ContainsFunc(guards, func(g guard) bool { return g.name == e })
}

func guardOf(e string) guard {
	i := slices.IndexFunc(guards, func(g guard) bool { return g.name == e })
	return guards[i]
}

func guardNames() []string {
	out := make([]string, len(guards))
	for i, g := range guards {
		out[i] = g.name
	}
	return out
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

// Allows reports whether a document may set k.
func (p Policy) Allows(k Key) bool {
	has := func(e string) bool { return slices.Contains(p.allow, e) }
	switch {
	case k.Entry == LocalOnly:
		return false
	case k.Entry == k.Section:
		return has(k.Section)
	case isGuard(k.Entry):
		return has(k.Section) && has(k.Entry)
	case slices.Contains(parts, k.Entry):
		return has(k.Section) || has(k.Entry)
	}
	return false
}

// Allow is the effective allow list.
func (p Policy) Allow() []string { return slices.Clone(p.allow) }

// CheckAllowEntry validates one [remote] allow entry: a section of the
// config, a guarded entry or a part.
func (s *Schema) CheckAllowEntry(e string) error {
	if k := s.sectionKey(e); slices.Contains(s.Sections, e) && k.Entry == LocalOnly {
		return fmt.Errorf("entry %q: [%s] may only be set in the local file: %s", e, e, k.Reason)
	}
	if slices.Contains(s.Sections, e) || isGuard(e) || slices.Contains(parts, e) {
		return nil
	}
	secs := slices.Sorted(slices.Values(s.Sections))
	var ps []string
	for _, p := range parts {
		ps = append(ps, fmt.Sprintf("%s (%s)", p, s.describePart(p)))
	}
	return fmt.Errorf("unknown entry %q: use section names (%s), guarded entries (%s) or %s",
		e, strings.Join(secs, ", "), strings.Join(guardNames(), ", "), strings.Join(ps, ", "))
}

// describePart names the keys a part covers: "[mqtt] budget, rate_limit,
// windows".
func (s *Schema) describePart(p string) string {
	bySection := map[string][]string{}
	var order []string
	for _, k := range s.Keys {
		if k.Entry == p {
			if bySection[k.Section] == nil {
				order = append(order, k.Section)
			}
			bySection[k.Section] = append(bySection[k.Section], k.Name)
		}
	}
	var out []string
	for _, sec := range order {
		out = append(out, fmt.Sprintf("[%s] %s", sec, strings.Join(bySection[sec], ", ")))
	}
	return strings.Join(out, "; ")
}
