// Command smokesub waits for one data batch on an MQTT broker, for
// scripts/smoke-arm.sh: the ARM binaries run under qemu-user against a
// local broker, and this host-built program proves a batch arrived. With
// -broker it subscribes to a running broker (Mosquitto in CI); with -listen
// it runs the embedded test broker itself, for machines without Mosquitto.
//
// It exits 0 after printing the first message on -topic that parses as a
// JSON batch with readings, 1 when -timeout passes first. The -ready file
// is created once the subscription is in place, so the script starts the
// daemon only when nothing can be missed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

type batch struct {
	Device   string            `json:"device"`
	FirstSeq uint64            `json:"first_seq"`
	LastSeq  uint64            `json:"last_seq"`
	Count    int               `json:"count"`
	Readings []json.RawMessage `json:"readings"`
}

func main() {
	broker := flag.String("broker", "", "broker URL to subscribe to (tcp://127.0.0.1:PORT)")
	listen := flag.String("listen", "", "run the embedded broker on this address instead")
	topic := flag.String("topic", "karana/+/data/#", "topic filter")
	timeout := flag.Duration("timeout", time.Minute, "give up after this long")
	ready := flag.String("ready", "", "file to create once subscribed")
	flag.Parse()
	if (*broker == "") == (*listen == "") {
		fmt.Fprintln(os.Stderr, "smokesub: want exactly one of -broker and -listen")
		os.Exit(2)
	}

	got := make(chan string, 1)
	handle := func(t string, payload []byte) {
		var b batch
		if err := json.Unmarshal(payload, &b); err != nil || b.Count == 0 || len(b.Readings) == 0 {
			return
		}
		select {
		case got <- fmt.Sprintf("%s: device %s seq %d..%d, %d readings", t, b.Device, b.FirstSeq, b.LastSeq, b.Count):
		default:
		}
	}

	if *listen != "" {
		b, err := testbroker.Start(nil, *listen)
		if err != nil {
			fail("embedded broker: %v", err)
		}
		defer b.Stop()
		if err := b.Subscribe(*topic, handle); err != nil {
			fail("subscribe: %v", err)
		}
	} else {
		opts := mqtt.NewClientOptions().AddBroker(*broker).SetClientID(fmt.Sprintf("smokesub-%d", os.Getpid())).
			SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond)
		c := mqtt.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(*timeout) || tok.Error() != nil {
			fail("connect %s: %v", *broker, tok.Error())
		}
		defer c.Disconnect(100)
		tok := c.Subscribe(*topic, 1, func(_ mqtt.Client, m mqtt.Message) { handle(m.Topic(), m.Payload()) })
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			fail("subscribe %s: %v", *topic, tok.Error())
		}
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			fail("%v", err)
		}
	}
	select {
	case s := <-got:
		fmt.Println(s)
	case <-time.After(*timeout):
		fail("no data batch on %s within %s", *topic, *timeout)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "smokesub: "+format+"\n", args...)
	os.Exit(1)
}
