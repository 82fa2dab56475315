// Command fleet runs N simulated karana-edge boxes in one process against one
// MQTT broker, and measures what a backend operator cares about: messages/s
// and readings/s at the broker, that every box's readings all arrive after a
// broker restart, how the reconnects spread over time (jittered backoff, not
// a stampede), and how long the whole fleet takes to drain its backlog after
// an outage.
//
// It is a test tool, never part of the device binary. Each box is a real
// agent (agent.ParseConfig + agent.New + Run) with its own data dir, so its
// own bbolt ring, its own MQTT connection and its own sampler; only the
// sensors are simulated.
//
// Facts the harness relies on:
//   - The backend's proof of completeness is the stable JSON batch: each
//     batch names the buffer range first_seq..last_seq it covers, and the one
//     stream matches every series, so a device has delivered everything when
//     its merged ranges form one gap-free run from seq 1. Resends after a
//     reconnect are at-least-once; they merge and are counted as duplicates.
//   - Seqs are given out in time order per commit, so "the gap-free prefix
//     holds a reading taken at or after T" means every reading sampled before
//     T has arrived: that is the drain criterion, measured at the broker.
//   - With the embedded broker (internal/testbroker) the outage is a real
//     stop and an empty restart on the same port; the observer's inspection
//     subscriptions survive it. With -broker URL the harness cannot restart
//     someone's Mosquitto, so the boxes connect through a local TCP proxy
//     that the harness cuts and resumes, and the observer subscribes to the
//     broker directly.
//   - 1,000 boxes need several thousand descriptors (bbolt file, MQTT
//     connection, control socket per box, plus the broker's end): the tool
//     raises RLIMIT_NOFILE to the hard limit.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/internal/testbroker"
	_ "github.com/karana-energy/karana-edge/sensors/sim"
)

// Options is one fleet run; flags map onto it one to one (main.go).
type Options struct {
	Boxes        int
	Sensors      int           // sim sensors per box
	Interval     time.Duration // sampling interval
	Period       time.Duration // stream batch period
	Commit       time.Duration // buffer commit_interval
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	Steady       time.Duration // the window messages/s and readings/s are measured over
	Outage       time.Duration // broker down for this long (0: no outage phase)
	DrainTimeout time.Duration // give up waiting for the drain after this
	StartSpread  time.Duration // boxes are started evenly over this
	Broker       string        // "" = embedded broker; else tcp://host:port of an external one
	Addr         string        // embedded broker listen address
	DataDir      string        // each box gets DataDir/<id>
	Prefix       string        // device id prefix
	Log          *slog.Logger  // boxes' logs; nil = discard
}

// DefaultOptions is the full run: 1,000 boxes, a 10-minute outage.
func DefaultOptions() Options {
	return Options{
		Boxes: 1000, Sensors: 4, Interval: time.Second, Period: 5 * time.Second, Commit: time.Second,
		ReconnectMin: time.Second, ReconnectMax: time.Minute,
		Steady: 30 * time.Second, Outage: 10 * time.Minute, DrainTimeout: 15 * time.Minute,
		StartSpread: 10 * time.Second, Addr: "127.0.0.1:0", Prefix: "box-",
	}
}

// Report is what a run measured.
type Report struct {
	Boxes, Sensors                 int
	Broker                         string
	StartedIn                      time.Duration // until every box had delivered a batch
	SteadyMsgsPerSec               float64
	SteadyReadingsPerSec           float64
	Outage                         time.Duration
	Reconnects                     []time.Duration // per box, from broker restart to its online birth
	DrainTime                      time.Duration   // from broker restart until every box caught up
	Drained                        int             // boxes caught up when the drain ended
	DrainMsgsPerSec                float64
	DrainReadingsPerSec            float64
	Complete                       completeness
	PeakRSSMiB                     float64 // the whole tool: boxes and embedded broker
	Goroutines, FDs                int
	TotalMessages, TotalReadings   int64
	BadBatches                     int64
	StartErrors                    int
	DrainTimedOut, StartupTimedOut bool
}

// outage is whatever the harness can take down and bring back.
type outage interface {
	down()
	up() error
}

type embeddedOutage struct{ b *testbroker.Broker }

func (e embeddedOutage) down()     { e.b.Stop() }
func (e embeddedOutage) up() error { return e.b.Restart() }

type proxyOutage struct{ p *proxy }

func (p proxyOutage) down()     { p.p.Cut() }
func (p proxyOutage) up() error { p.p.Resume(); return nil }

// Run runs one fleet; progress lines go to progress (may be nil).
func Run(ctx context.Context, o Options, progress func(string)) (*Report, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if _, err := raiseNoFile(uint64(o.Boxes)*6 + 256); err != nil {
		return nil, err
	}
	obs := newObserver()
	rep := &Report{Boxes: o.Boxes, Sensors: o.Sensors, Outage: o.Outage}

	boxBroker, out, stopBroker, err := setUpBroker(o, obs, rep)
	if err != nil {
		return nil, err
	}
	defer stopBroker()

	boxCtx, stopBoxes := context.WithCancel(ctx)
	var boxes []*box
	defer func() {
		stopBoxes()
		for _, b := range boxes {
			select {
			case <-b.done:
			case <-time.After(10 * time.Second):
			}
		}
	}()
	t0 := time.Now()
	boxes, err = startBoxes(ctx, boxCtx, o, boxBroker)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(boxes))
	for _, b := range boxes {
		ids = append(ids, b.id)
	}
	progress(fmt.Sprintf("%d boxes started in %s", o.Boxes, time.Since(t0).Round(time.Millisecond)))

	// Up: every box has delivered a batch with a reading taken after start.
	rep.StartupTimedOut = !waitAll(ctx, obs, ids, t0, o.Period*4+o.StartSpread+30*time.Second)
	rep.StartedIn = time.Since(t0)
	progress(fmt.Sprintf("fleet up after %s (%d/%d boxes delivering)", rep.StartedIn.Round(time.Millisecond), obs.caughtUp(ids, t0), len(ids)))

	measureSteady(ctx, o, obs, rep, progress)
	if o.Outage > 0 {
		if err := measureOutage(ctx, o, obs, ids, out, rep, progress); err != nil {
			return nil, err
		}
	}
	finishReport(obs, ids, boxes, rep, progress)
	return rep, nil
}

// check rejects options no fleet can run with and fills the logger.
func (o *Options) check() error {
	if o.Boxes < 1 || o.Sensors < 1 {
		return fmt.Errorf("fleet: need at least one box and one sensor (boxes %d, sensors %d)", o.Boxes, o.Sensors)
	}
	if o.DataDir == "" {
		return errors.New("fleet: DataDir must be set")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// setUpBroker starts the embedded broker, or puts a proxy in front of the
// external one so that the outage can be staged without owning it. It
// returns the URL the boxes use, the outage switch and a stop function.
func setUpBroker(o Options, obs *observer, rep *Report) (string, outage, func(), error) {
	if o.Broker == "" {
		b, err := testbroker.Start(nil, o.Addr)
		if err != nil {
			return "", nil, nil, err
		}
		for _, f := range []string{"karana/+/data/#", "karana/+/status"} {
			if err := b.Subscribe(f, obs.onMessage); err != nil {
				b.Stop()
				return "", nil, nil, fmt.Errorf("fleet: observe %s: %w", f, err)
			}
		}
		rep.Broker = "embedded (mochi-mqtt)"
		return b.URL(), embeddedOutage{b}, b.Stop, nil
	}
	u, err := url.Parse(o.Broker)
	if err != nil || u.Host == "" {
		return "", nil, nil, fmt.Errorf("fleet: -broker %q: want tcp://host:port", o.Broker)
	}
	stopObs, err := observeExternal(o.Broker, obs)
	if err != nil {
		return "", nil, nil, err
	}
	p, err := startProxy(u.Host)
	if err != nil {
		stopObs()
		return "", nil, nil, err
	}
	rep.Broker = o.Broker + " (outage staged by a proxy)"
	stop := func() { p.Close(); stopObs() }
	return "tcp://" + p.Addr(), proxyOutage{p}, stop, nil
}

// startBoxes starts the boxes spread over o.StartSpread, as a fleet
// powering up after a site-wide outage would not all connect at once.
// On an error the boxes started so far are returned with it.
func startBoxes(ctx, boxCtx context.Context, o Options, broker string) ([]*box, error) {
	boxes := make([]*box, 0, o.Boxes)
	step := o.StartSpread / time.Duration(o.Boxes)
	for i := 0; i < o.Boxes; i++ {
		b, err := startBox(boxCtx, o, i, broker, o.Log)
		if err != nil {
			return boxes, err
		}
		boxes = append(boxes, b)
		if step > 0 {
			sleep(ctx, step)
		}
	}
	return boxes, nil
}

func measureSteady(ctx context.Context, o Options, obs *observer, rep *Report, progress func(string)) {
	m0, r0, s0 := obs.messages.Load(), obs.readings.Load(), time.Now()
	sleep(ctx, o.Steady)
	el := time.Since(s0)
	rep.SteadyMsgsPerSec = float64(obs.messages.Load()-m0) / el.Seconds()
	rep.SteadyReadingsPerSec = float64(obs.readings.Load()-r0) / el.Seconds()
	progress(fmt.Sprintf("steady: %.0f msgs/s, %.0f readings/s at the broker", rep.SteadyMsgsPerSec, rep.SteadyReadingsPerSec))
}

// measureOutage takes the broker away for o.Outage and times the drain
// once it is back.
func measureOutage(ctx context.Context, o Options, obs *observer, ids []string, out outage, rep *Report, progress func(string)) error {
	progress(fmt.Sprintf("broker down for %s", o.Outage))
	out.down()
	sleep(ctx, o.Outage)
	restart := time.Now()
	obs.watchOnline(restart)
	if err := out.up(); err != nil {
		return err
	}
	m0, r0 := obs.messages.Load(), obs.readings.Load()
	rep.DrainTimedOut = !waitAll(ctx, obs, ids, restart, o.DrainTimeout)
	rep.DrainTime = time.Since(restart)
	rep.Drained = obs.caughtUp(ids, restart)
	rep.DrainMsgsPerSec = float64(obs.messages.Load()-m0) / rep.DrainTime.Seconds()
	rep.DrainReadingsPerSec = float64(obs.readings.Load()-r0) / rep.DrainTime.Seconds()
	rep.Reconnects = obs.onlineTimes()
	progress(fmt.Sprintf("drained %d/%d boxes in %s", rep.Drained, len(ids), rep.DrainTime.Round(time.Millisecond)))
	return nil
}

// finishReport adds the totals, this process's own cost, and the boxes
// that stopped early.
func finishReport(obs *observer, ids []string, boxes []*box, rep *Report, progress func(string)) {
	rep.Complete = obs.completeness(ids)
	rep.TotalMessages, rep.TotalReadings, rep.BadBatches = obs.messages.Load(), obs.readings.Load(), obs.badJSON.Load()
	rep.PeakRSSMiB = float64(selfStatusKiB("VmHWM:")) / 1024
	rep.Goroutines = runtime.NumGoroutine()
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		rep.FDs = len(ents)
	}
	for _, b := range boxes {
		select {
		case err := <-b.done: // a box that stopped early is a failure to report
			if err != nil {
				rep.StartErrors++
				progress(fmt.Sprintf("box %s stopped: %v", b.id, err))
			}
		default:
		}
	}
}

// waitAll polls until every box has caught up with t; false on timeout.
func waitAll(ctx context.Context, obs *observer, ids []string, t time.Time, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if obs.caughtUp(ids, t) == len(ids) {
			return true
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return obs.caughtUp(ids, t) == len(ids)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// observeExternal subscribes to an external broker directly (not through
// the proxy), resubscribing after any reconnect of its own.
func observeExternal(broker string, obs *observer) (func(), error) {
	var once sync.Once
	ready := make(chan error, 1)
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID("karana-fleet-observer-" + strconv.Itoa(os.Getpid())).
		SetCleanSession(true).SetAutoReconnect(true).SetOrderMatters(false)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.SubscribeMultiple(map[string]byte{"karana/+/data/#": 1, "karana/+/status": 1},
			func(_ mqtt.Client, m mqtt.Message) { obs.onMessage(m.Topic(), m.Payload()) })
		tok.Wait()
		once.Do(func() { ready <- tok.Error() })
	})
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); tok.WaitTimeout(30*time.Second) && tok.Error() != nil {
		return nil, fmt.Errorf("fleet: observer connect %s: %w", broker, tok.Error())
	}
	select {
	case err := <-ready:
		if err != nil {
			c.Disconnect(100)
			return nil, fmt.Errorf("fleet: observer subscribe on %s: %w", broker, err)
		}
	case <-time.After(30 * time.Second):
		c.Disconnect(100)
		return nil, fmt.Errorf("fleet: observer: no connection to %s in 30s", broker)
	}
	return func() { c.Disconnect(250) }, nil
}

func selfStatusKiB(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			if f := strings.Fields(line); len(f) > 1 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}
