// Package exec reads a sensor by running a program: for a vendor tool, a
// Modbus one-liner, a script a technician already trusts. Registered as
// driver "exec". Allowed in the local config file only (its options
// implement sensors.LocalOnly): a remote config must not be able to make
// the box run programs.
//
//	[[sensor]]
//	name = "inverter"
//	driver = "exec"
//	interval = "1m"
//	timeout = "20s"       # the common key bounds each run (default: the
//	                      # smaller of interval and 5s)
//	command = ["/usr/local/bin/read-inverter", "--port", "/dev/ttyUSB0"]
//	unit = ""             # unit of every value; per field: [sensor.fields.x] unit
//
// The program runs without a shell: command is the argv, its first element
// an absolute path (no $PATH lookup, no globbing, no quoting surprises),
// in directory /, with the daemon's environment. Its standard output is
// either a single number, which becomes field "value", or key=value pairs
// separated by spaces or newlines, one field each:
//
//	$ read-inverter
//	ac_power=2310.5 dc_voltage=412.2
//	temperature=41
//
// Keys follow the series-name rule (letters, digits, '-', '_', '.'). Any
// other output is an error that quotes it. A non-zero exit is an error
// carrying the first line of standard error. At most 64 KiB of output is
// read.
//
// Runs never overlap: the sampler starts a read only after the previous one
// returned, and a run that outlives its timeout is killed with its whole
// process group (the program runs in a group of its own, so a shell script's
// children go too) before the read returns.
package exec
