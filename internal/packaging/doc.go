// Package packaging tests what ships around the binary: the systemd unit
// (systemd-analyze verify, and the hardening HARDWARE.md asks for),
// scripts/install.sh run into a temporary root (DESTDIR), and the .deb
// that scripts/build-deb.sh makes with dpkg-deb. smokesub/ is the host-side
// subscriber of scripts/smoke-arm.sh, which runs the ARM builds under
// qemu-user.
//
// The tests run the real scripts and tools. systemd-analyze and dpkg-deb
// come from Debian's systemd and dpkg packages (.ci/run installs them when
// missing); a test skips, saying so, only when its tool is truly absent.
package packaging
