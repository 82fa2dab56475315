// Package sim is the simulated sensor: the default board on a laptop, the
// sensor of every test and demo, and the workload of the bytes-on-the-wire
// benchmarks (shared/reference-site.toml), so its data must look like a real
// site's — smooth curves, quantized like a real ADC, counters that only go
// up, PV power that is zero at night and dips under passing clouds.
//
// Registered as driver "sim". Example:
//
//	[[sensor]]
//	name = "pv1_power"
//	driver = "sim"
//	interval = "10s"
//	waveform = "solar"     # sine | ramp | counter | random-walk | solar
//	amplitude = 5000       # peak W
//	resolution = 0.1       # values are multiples of 0.1, printed cleanly
//	unit = "W"
//
// # Reproducible by time
//
// Values are functions of the sample time, not of how many reads came
// before: the sampler puts the slot time in the read's context
// (sensors.WithSlot) and sim computes the value for that instant (time.Now
// when read outside the sampler). Two boxes, or a test and a re-run, read
// the same values for the same slots. Randomness (noise, clouds, the
// counter's jitter, the walk's steps) comes from a hash of the seed and the
// time, never from a shared generator. The seed defaults to a hash of the
// sensor's name, so sensors differ from one another while a sensor of the
// same name reads the same on every box. The random walk alone keeps state (its position); its steps are
// still drawn from the slot time, so the same sequence of slots gives the
// same path.
//
// # Waveforms
//
// With a = amplitude, o = offset, P = period and t the Unix time:
//
//	sine         o + a·sin(2π t/P)                              P default 1h
//	ramp         o + a·frac(t/P): sawtooth from o to o+a        P default 1h
//	counter      o + a·(ticks since 2024-01-01 UTC), one tick    P default 10s
//	             per P on average; the rate swings ±50% over a
//	             day and each tick adds a jittered amount, but
//	             the total never decreases (not even when the
//	             wall clock steps back)
//	random-walk  o + a·x, x a walk in [-1, 1] starting at 0      P unused
//	             with gaussian steps of 0.01 per read,
//	             reflected at the bounds
//	solar        o + a·sin(π·(f−¼)/½)^1.5 for day fraction f     P default 24h
//	             between ¼ (06:00 UTC) and ¾ (18:00 UTC), zero
//	             outside; passing clouds cut it by 20–80% for
//	             2–10 minutes, more often on cloudy days
//
// noise adds gaussian noise of that standard deviation to sine, ramp,
// random-walk and to solar in daylight (solar never goes below o); it is not
// added to counter, which must not decrease. resolution then rounds every
// value to a multiple of itself, and the result is the float64 closest to
// the decimal, so 0.1 prints as "0.1", not "0.30000000000000004".
//
// fail_every = N makes every Nth read fail and delay makes each read take
// that long (returning early with the context's error when it ends first):
// they let tests and demos show a failing sensor, timeouts and overruns.
package sim
