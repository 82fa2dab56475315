package agent

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/karana-energy/karana-edge/internal/testbroker"
)

type alarmArrival struct {
	at       time.Time
	ts       time.Time
	value    float64
	severity string
}

// An alarm is published at once by a stream whose period is 60 s: it
// reaches a real Mosquitto seconds after its transition, not at the end of
// the period.
func TestAlarmReachesMosquittoAtOnce(t *testing.T) {
	addr := testbroker.StartMosquitto(t, testbroker.MosquittoOptions{}).Addr()
	var mu sync.Mutex
	var got []alarmArrival
	var online time.Time
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("watcher"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe("karana/alarmbox/status", 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		if online.IsZero() {
			online = time.Now()
		}
		mu.Unlock()
	}).Wait()
	sub.Subscribe("karana/alarmbox/data/alarms", 1, func(_ mqtt.Client, m mqtt.Message) {
		var b struct {
			Readings []struct {
				Name     string    `json:"name"`
				TS       time.Time `json:"ts"`
				Value    float64   `json:"value"`
				Severity string    `json:"severity"`
			} `json:"readings"`
		}
		if err := json.Unmarshal(m.Payload(), &b); err != nil {
			t.Errorf("batch: %v", err)
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Readings {
			if r.Name == "alarm.battery_low" {
				got = append(got, alarmArrival{at: now, ts: r.TS, value: r.Value, severity: r.Severity})
			}
		}
	}).Wait()

	// The sine stays above -2: the condition holds from the first reading
	// and the alarm rises 6 s later, well after the session started.
	cfgText := fmt.Sprintf(`[device]
id = "alarmbox"
data_dir = %q
board = "sim"
[mqtt]
broker = "tcp://%s"
reconnect_min = "100ms"
[[sensor]]
name = "battery"
driver = "sim"
interval = "500ms"
[[stream]]
name = "alarms"
period = "60s"
match = ["alarm.*"]
[[rule]]
name = "battery_low"
when = "battery.value > -2"
for = "6s"
severity = "critical"
`, t.TempDir(), addr)
	cfg, err := ParseConfig("alarm.toml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	stop := startAgent(t, cfg)
	defer stop()

	// Generous guard: the period is 60 s; on a loaded CI box the alarm
	// still arrives within seconds.
	waitFor(t, "the raised alarm at the broker", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range got {
			if a.value == 1 {
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	var raise alarmArrival
	for _, a := range got {
		if a.value == 1 {
			raise = a
			break
		}
	}
	if online.IsZero() || !raise.ts.After(online) {
		t.Fatalf("the alarm (%s) came before the session (%s): the test proves nothing", raise.ts, online)
	}
	if lag := raise.at.Sub(raise.ts); lag > 15*time.Second {
		t.Fatalf("alarm arrived %s after its transition; the stream's period is 60 s, urgency failed", lag)
	}
	if raise.severity != "critical" {
		t.Errorf("severity = %q, want critical", raise.severity)
	}
	t.Logf("alarm at the broker %s after its transition (stream period 60 s)", raise.at.Sub(raise.ts).Round(time.Millisecond))
}
