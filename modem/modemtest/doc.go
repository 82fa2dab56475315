// Package modemtest runs a private dbus-daemon and a stand-in ModemManager
// on it, for tests of code that talks to ModemManager: the bus is Debian's
// real dbus-daemon, only ModemManager is played, exporting the objects,
// interfaces and properties ModemManager exports and recording the
// Enable and Reset calls it receives.
package modemtest
