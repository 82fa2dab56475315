// Package system reports the health of the box itself: CPU temperature,
// load, memory, free space where the buffer lives, uptime, and the
// Raspberry Pi's under-voltage and throttling flags. Registered as driver
// "system".
//
//	[[sensor]]
//	name = "box"
//	driver = "system"
//	interval = "1m"
//	# path = "/var/lib/karana-edge"   # file system whose free space is reported
//
// Fields (each left out when its source is missing on this box; the read
// fails only when none can be read):
//
//	cpu_temp       °C  /sys/class/thermal/thermal_zone0/temp (milli-°C)
//	load1, load5, load15  /proc/loadavg
//	mem_available  B   /proc/meminfo MemAvailable (what can be allocated
//	mem_total      B   without swapping), MemTotal
//	disk_free      B   statfs(path): blocks available to an unprivileged user
//	uptime         s   /proc/uptime
//	throttled          /sys/devices/platform/soc/soc:firmware/get_throttled:
//	under_voltage      the firmware's flags (the number vcgencmd
//	under_voltage_occurred  get_throttled prints), and two of its bits as 0/1:
//	                   bit 0 under-voltage now, bit 16 under-voltage since boot
//
// The throttling flags are the first thing to look at on a box that
// reboots or corrupts its SD card: a weak supply or a long thin cable
// shows as under_voltage_occurred = 1. vcgencmd is a program, not a
// library; the Raspberry Pi kernel exposes the same value in sysfs (kernel
// 4.19 and later), read here when present.
//
// path defaults to /var/lib/karana-edge, the default data_dir: set it when
// [device] data_dir is elsewhere. proc_root and sys_root move /proc and
// /sys (for tests, or a container that mounts the host's at another place).
package system
