package modbus

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// Profile is a shipped register map, one file per device family in
// profiles/, each naming the maker's document it was checked against.
type Profile struct {
	Name string `toml:"-"`
	// Doc is one line for `check` and the README.
	Doc string `toml:"doc"`
	// Source is the maker's document (title, version).
	Source string `toml:"source"`
	// UnitID is the unit a device of this kind answers at by default
	// (Victron GX: 100); 0 for the usual 1.
	UnitID int `toml:"unit_id"`
	// MaxRegisters caps a request for devices that refuse the spec's 125
	// (Eastron: 30 floats); 0 for no cap of its own.
	MaxRegisters int `toml:"max_registers"`
	// SunSpec: the registers come from the device's SunSpec model chain.
	SunSpec bool `toml:"sunspec"`
	// Probe is a register whose value, in [Min, Max], suggests this kind
	// of device to `karana-edge modbus scan`.
	Probe *Probe `toml:"probe"`
	// Registers are the device's values.
	Registers []Register `toml:"register"`
}

// Probe is one register that tells a device kind apart, loosely: a
// frequency of 45-65 Hz where the maker's map has it.
type Probe struct {
	Register
	Min float64 `toml:"min"`
	Max float64 `toml:"max"`
}

//go:embed profiles/*.toml
var profileFS embed.FS

var (
	profilesOnce sync.Once
	profiles     map[string]*Profile
	profilesErr  error
)

func loadProfiles() {
	profiles = map[string]*Profile{}
	ents, err := profileFS.ReadDir("profiles")
	if err != nil {
		profilesErr = err
		return
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".toml")
		data, err := profileFS.ReadFile(path.Join("profiles", e.Name()))
		if err != nil {
			profilesErr = err
			return
		}
		p := &Profile{Name: name}
		md, err := toml.Decode(string(data), p)
		if err == nil && len(md.Undecoded()) > 0 {
			err = fmt.Errorf("unknown keys %v", md.Undecoded())
		}
		if err != nil {
			profilesErr = fmt.Errorf("profile %s: %w", name, err)
			return
		}
		profiles[name] = p
	}
}

// LookupProfile returns the shipped profile of that name.
func LookupProfile(name string) (*Profile, bool) {
	profilesOnce.Do(loadProfiles)
	p, ok := profiles[name]
	return p, ok
}

// ProfileNames lists the shipped profiles, sorted.
func ProfileNames() []string {
	profilesOnce.Do(loadProfiles)
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// profilesError is a broken embedded file: a build that must not ship.
func profilesError() error {
	profilesOnce.Do(loadProfiles)
	return profilesErr
}
