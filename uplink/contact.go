package uplink

// LinkWanted reports whether the uplink means the link to be up now:
// always without [mqtt] windows, else inside a window. The link watchdog
// counts time without broker contact only while it is, so a box whose
// modem is powered an hour a day is not "recovered" the other 23.
func (u *Uplink) LinkWanted() bool {
	return len(u.windows) == 0 || openAt(u.windows, u.now())
}
