package agent

import (
	"log/slog"

	"github.com/karana-energy/karana-edge/sensors"
)

// stateStore is what sensor state needs from the buffer: values persisted
// with its group commit (buffer.Ring).
type stateStore interface {
	GetState(key string) ([]byte, bool)
	SetState(key string, value []byte)
}

// sensorState scopes a stateStore to one sensor: its keys are stored as
// "sensor/<name>/<key>", so two sensors never see each other's state and a
// renamed sensor starts afresh.
type sensorState struct {
	store  stateStore
	prefix string
}

func newSensorState(store stateStore, sensor string) sensors.State {
	return sensorState{store: store, prefix: "sensor/" + sensor + "/"}
}

func (s sensorState) Get(key string) ([]byte, bool) { return s.store.GetState(s.prefix + key) }
func (s sensorState) Set(key string, value []byte)  { s.store.SetState(s.prefix+key, value) }

// restoreState hands each stateful sensor its persisted state before the
// sampler starts. A sensor that cannot use what was stored (a value from an
// incompatible build) is logged and carries on from scratch: losing a
// running total is bad, refusing to sample is worse.
func restoreState(list []sensors.Configured, store stateStore, log *slog.Logger) {
	for _, c := range list {
		st, ok := c.Sensor.(sensors.Stateful)
		if !ok {
			continue
		}
		if err := st.Restore(newSensorState(store, c.Config.Name)); err != nil {
			log.Error("sensor state not restored; starting afresh", "sensor", c.Config.Name, "driver", c.Config.Driver, "err", err)
		}
	}
}
