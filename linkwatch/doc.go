// Package linkwatch is the link watchdog: when the box has had no broker
// contact for [link] no_contact, it runs the configured recovery steps,
// one per no_contact period, escalating: reconnect (a fresh MQTT
// connection), restart-modem (ModemManager: disable and enable the modem,
// then reset it the next time round), reboot (logind). The steps cycle
// while the silence lasts; each runs at most once per period.
//
// A reboot loop must be impossible, on a box without an RTC whose clock
// may be hours or years off after a reboot. Reboots are capped per 24 h
// (max_reboots_per_day) and each is recorded in data_dir before it is
// asked for, with the boot id, the time since boot and whether the clock
// was synchronized. A record's age is then known without trusting the
// wall clock: exactly within the same boot (CLOCK_BOOTTIME), and at least
// the current boot's uptime after a reboot, which is how long the box has
// been up since the reboot that record announced. The wall clock adds to
// that only when it was synchronized both then and now. So an unsynced
// clock, set back by fake-hwclock or to 1970, can delay the next reboot
// (at most until this boot has been up 24 h) but never allow one early.
//
// "Contact" is the uplink's last successful exchange with the broker; the
// watchdog only asks for it (Contact). Without contact since the daemon
// started, the silence is counted from the start: a restart of the daemon
// delays the steps, it never hastens them. Time when the link is down by
// design (outside [mqtt] windows: LinkWanter) is not silence, and no step
// is taken then.
//
// Every step is logged and kept in data_dir with its result until the box
// has been back in contact for a poll: the status document published at
// the next connect carries them (Report).
package linkwatch
