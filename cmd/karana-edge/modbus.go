package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors/modbus"
)

const modbusUsage = `usage: karana-edge modbus scan -port DEVICE [-baud 9600] [-parity N] [-stop-bits 1] [-units 1-247] [-timeout 200ms]
       karana-edge modbus scan -url tcp://HOST:502 [-units 1-247]
`

// cmdModbus runs the Modbus commissioning tools.
func cmdModbus(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "scan" {
		fmt.Fprint(stderr, modbusUsage)
		return exitConfig
	}
	return cmdModbusScan(args[1:], stdout, stderr)
}

// cmdModbusScan lists the unit ids that answer on a bus and what each
// device probably is.
func cmdModbusScan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge modbus scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := modbus.DefaultOptions()
	port := fs.String("port", "", "serial device of the RS-485 bus (/dev/ttyUSB0)")
	url := fs.String("url", "", "Modbus TCP endpoint (tcp://host:502) or serial gateway (rtuovertcp://host:port)")
	baud := fs.Int("baud", def.Baud, "serial speed")
	parity := fs.String("parity", def.Parity, "serial parity: N, E or O")
	stop := fs.Int("stop-bits", def.StopBits, "serial stop bits: 1 or 2")
	units := fs.String("units", "1-247", "unit ids to try: 1-247, or 1,2,5-7")
	timeout := fs.Duration("timeout", 200*time.Millisecond, "how long to wait for each unit's answer")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "karana-edge modbus scan: unexpected argument %q\n%s", fs.Arg(0), modbusUsage)
		return exitConfig
	}
	list, err := modbus.ParseUnits(*units)
	if err != nil {
		fmt.Fprintf(stderr, "karana-edge modbus scan: %v\n", err)
		return exitConfig
	}
	o := def
	o.Port, o.URL, o.Baud, o.Parity, o.StopBits = *port, *url, *baud, strings.ToUpper(*parity), *stop
	o.RequestTimeout = config.D(*timeout)
	where, settings := o.URL, ""
	if o.Port != "" {
		where, settings = o.Port, fmt.Sprintf(" at %d %d%s%d", o.Baud, o.DataBits, o.Parity, o.StopBits)
		if list[0] < 1 || list[len(list)-1] > 247 {
			fmt.Fprintln(stderr, "karana-edge modbus scan: on a serial bus unit ids are 1-247 (0 is broadcast)")
			return exitConfig
		}
	}
	ctx, stop2 := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop2()
	fmt.Fprintf(stdout, "Modbus scan of %s%s, %d unit ids, %s each:\n", where, settings, len(list), *timeout)
	found, err := modbus.Scan(ctx, modbus.ScanOptions{Options: o, Units: list}, nil)
	for _, f := range found {
		what := "answers; no shipped profile's identifying register matched (add [[sensor.register]] tables from its manual)"
		switch {
		case f.SunSpec != "":
			what = "answers; " + f.SunSpec + ` (profile = "sunspec")`
		case len(f.Likely) > 0:
			what = "answers; probably " + strings.Join(f.Likely, " or ")
		}
		fmt.Fprintf(stdout, "unit %d: %s\n", f.Unit, what)
	}
	var bad config.FieldErrors
	if errors.As(err, &bad) {
		fmt.Fprintf(stderr, "karana-edge modbus scan: %v\n", err)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintf(stderr, "karana-edge modbus scan: %v\n", err)
		return exitFailure
	}
	if len(found) == 0 {
		fmt.Fprintln(stdout, "no unit answered: check A/B wiring (swap them if unsure), the baud rate and parity, a 120 Ω terminator at each end of a long bus, and the device's power")
		return exitOK
	}
	fmt.Fprintf(stdout, "%d of %d unit ids answered\n", len(found), len(list))
	return exitOK
}
