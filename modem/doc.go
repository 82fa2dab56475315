// Package modem reads a cellular modem's health from ModemManager over the
// D-Bus system bus, and restarts or resets the modem through it.
//
// What it reads, in one GetManagedObjects call on
// /org/freedesktop/ModemManager1 plus one Properties.Get per bearer:
//
//	org.freedesktop.ModemManager1.Modem          SignalQuality (ub), AccessTechnologies (u),
//	                                             State (i), Bearers (ao)
//	org.freedesktop.ModemManager1.Modem.Modem3gpp OperatorName (s), OperatorCode (s),
//	                                             RegistrationState (u)
//	org.freedesktop.ModemManager1.Bearer         Connected (b), Stats (a{sv}: rx-bytes,
//	                                             tx-bytes (t), duration (u))
//
// The enum values (State, AccessTechnologies, RegistrationState) are
// ModemManager's own, from include/ModemManager-enums.h (MMModemState,
// MMModemAccessTechnology, MMModem3gppRegistrationState); names.go names
// them. A box with several modems reports the first by object path.
//
// Caveats, learnt from the API and from boxes in the field:
//   - Most boxes have no ModemManager (Ethernet, Wi-Fi, a USB stick in
//     router mode). That is "not fitted", a quiet state, never an error:
//     it is logged once, and the bus is asked again only every
//     Options.Recheck (10 minutes), so a modem plugged in later is found
//     without a call a minute for the life of the box.
//   - ModemManager is D-Bus activatable on some distributions: a plain call
//     to its name would start it. Presence is asked with NameHasOwner and
//     every call carries NO_AUTO_START, so reading telemetry never starts
//     a daemon the box's owner left off.
//   - Bearer Stats count the current connection only (they restart at 0 on
//     every connect), and ModemManager refreshes them every 30 s or so
//     while connected, on modems that support it; older versions leave
//     them empty. A missing counter is left out, never reported as 0.
//   - Reading properties needs no privilege. Enable and Reset are guarded
//     by the polkit action org.freedesktop.ModemManager1.Device.Control:
//     the karana user needs a polkit rule (packaging/polkit) for
//     restart-modem to work.
package modem
