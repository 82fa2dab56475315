package rules

import (
	"sort"
	"time"
)

// AlarmStatus is one rule's state for the status document.
type AlarmStatus struct {
	Rule  string `json:"rule"`
	State string `json:"state"` // raised | cleared | pending | stale | unknown
	// Raised: the alarm is up (also while stale: missing inputs do not
	// clear it).
	Raised   bool   `json:"raised"`
	Severity string `json:"severity"`
	Since    string `json:"since,omitempty"`
}

// Alarms lists every rule's state, by name.
func (e *Engine) Alarms() []AlarmStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AlarmStatus, 0, len(e.rules))
	for _, r := range e.rules {
		st := AlarmStatus{Rule: r.rc.Name, Severity: r.rc.Severity, Raised: r.known && r.raised}
		switch {
		case r.stale:
			st.State = "stale"
		case !r.known:
			st.State = "unknown"
		case r.raised:
			st.State = "raised"
		case r.holdFrom != 0:
			st.State = "pending"
		default:
			st.State = "cleared"
		}
		if r.known && r.since != 0 {
			st.Since = time.Unix(0, r.since).UTC().Format(time.RFC3339)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// Severity returns the severity of the alarm series name (alarm.<rule>),
// "" for any other series.
func (e *Engine) Severity(name string) string {
	if r := e.alarms[name]; r != nil {
		return r.rc.Severity
	}
	return ""
}
