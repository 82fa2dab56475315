package linkwatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// StateFile is the watchdog's file in data_dir.
const StateFile = "linkwatch.json"

// Day is the window the reboot cap counts in.
const Day = 24 * time.Hour

// maxSteps bounds the steps kept for the report: a week-long outage at
// the shortest no_contact must not grow the status document without end.
const maxSteps = 16

// Step is one recovery step taken, as logged and reported.
type Step struct {
	Step string    `json:"step"`
	At   time.Time `json:"at"`
	// Result is "ok", "failed: ...", or "skipped: ..." (a reboot over the
	// cap, no modem fitted).
	Result string `json:"result"`
	// Silence is how long there had been no contact, in seconds.
	Silence int64 `json:"no_contact_s"`
	// How is the variant run: "disable/enable" or "reset" for
	// restart-modem, "logind" or "systemctl" for reboot.
	How string `json:"how,omitempty"`
}

// rebootRecord is a reboot asked for. Its age is measured against Boot,
// not the wall clock alone (package doc).
type rebootRecord struct {
	At     time.Time     `json:"at"`
	BootID string        `json:"boot_id"`
	Since  time.Duration `json:"since_boot_ns"`
	Synced bool          `json:"clock_synced"`
}

// age is a lower bound of the time since the record was made.
func (r rebootRecord) age(now time.Time, b Boot, synced bool) time.Duration {
	if r.BootID != "" && r.BootID == b.ID {
		// the reboot did not happen (it failed, or was refused)
		return b.Since - r.Since
	}
	age := b.Since // the reboot came before this boot began
	if r.Synced && synced {
		age = max(age, now.Sub(r.At))
	}
	return age
}

// state is what survives a reboot.
type state struct {
	Reboots []rebootRecord `json:"reboots,omitempty"`
	// Steps are those of the current outage (or of the last one, until it
	// has been reported).
	Steps []Step `json:"steps,omitempty"`
	// Dropped counts steps beyond maxSteps, not kept.
	Dropped int `json:"steps_dropped,omitempty"`
}

func loadState(path string) (state, error) {
	var s state
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("link watchdog: reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return state{}, fmt.Errorf("link watchdog: %s is damaged (%v)", path, err)
	}
	return s, nil
}

func (s *state) save(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("link watchdog: encoding state: %w", err)
	}
	if err := durable.WriteFile(path, b, 0o640); err != nil {
		return fmt.Errorf("link watchdog: %w", err)
	}
	return nil
}

func (s *state) addStep(st Step) {
	if len(s.Steps) >= maxSteps {
		// keep the first (how it began) and the newest
		s.Steps = append(s.Steps[:1], s.Steps[2:]...)
		s.Dropped++
	}
	s.Steps = append(s.Steps, st)
}

// recentReboots drops records a day old or older and counts the rest.
func (s *state) recentReboots(now time.Time, b Boot, synced bool) int {
	kept := s.Reboots[:0]
	for _, r := range s.Reboots {
		if r.age(now, b, synced) < Day {
			kept = append(kept, r)
		}
	}
	s.Reboots = kept
	return len(kept)
}
