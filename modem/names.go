package modem

import "strings"

// ModemManager's enums, from include/ModemManager-enums.h.

// State is MMModemState.
type State int32

// MMModemState values.
const (
	StateFailed        State = -1
	StateUnknown       State = 0
	StateInitializing  State = 1
	StateLocked        State = 2
	StateDisabled      State = 3
	StateDisabling     State = 4
	StateEnabling      State = 5
	StateEnabled       State = 6
	StateSearching     State = 7
	StateRegistered    State = 8
	StateDisconnecting State = 9
	StateConnecting    State = 10
	StateConnected     State = 11
)

var stateNames = map[State]string{
	StateFailed: "failed", StateUnknown: "unknown", StateInitializing: "initializing",
	StateLocked: "locked", StateDisabled: "disabled", StateDisabling: "disabling",
	StateEnabling: "enabling", StateEnabled: "enabled", StateSearching: "searching",
	StateRegistered: "registered", StateDisconnecting: "disconnecting",
	StateConnecting: "connecting", StateConnected: "connected",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "unknown"
}

// Registration is MMModem3gppRegistrationState.
type Registration uint32

// MMModem3gppRegistrationState values.
const (
	RegIdle                    Registration = 0
	RegHome                    Registration = 1
	RegSearching               Registration = 2
	RegDenied                  Registration = 3
	RegUnknown                 Registration = 4
	RegRoaming                 Registration = 5
	RegHomeSMSOnly             Registration = 6
	RegRoamingSMSOnly          Registration = 7
	RegEmergencyOnly           Registration = 8
	RegHomeCSFBNotPreferred    Registration = 9
	RegRoamingCSFBNotPreferred Registration = 10
	RegAttachedRLOS            Registration = 11
)

var regNames = []string{
	"idle", "home", "searching", "denied", "unknown", "roaming", "home-sms-only",
	"roaming-sms-only", "emergency-only", "home-csfb-not-preferred",
	"roaming-csfb-not-preferred", "attached-rlos",
}

func (r Registration) String() string {
	if int(r) < len(regNames) {
		return regNames[r]
	}
	return "unknown"
}

// AccessTech is the MMModemAccessTechnology bitmask.
type AccessTech uint32

// MMModemAccessTechnology bits. LTE Cat-M and NB-IoT came with
// ModemManager 1.22 (bits 16 and 17).
const (
	TechPOTS       AccessTech = 1 << 0
	TechGSM        AccessTech = 1 << 1
	TechGSMCompact AccessTech = 1 << 2
	TechGPRS       AccessTech = 1 << 3
	TechEDGE       AccessTech = 1 << 4
	TechUMTS       AccessTech = 1 << 5
	TechHSDPA      AccessTech = 1 << 6
	TechHSUPA      AccessTech = 1 << 7
	TechHSPA       AccessTech = 1 << 8
	TechHSPAPlus   AccessTech = 1 << 9
	Tech1xRTT      AccessTech = 1 << 10
	TechEVDO0      AccessTech = 1 << 11
	TechEVDOA      AccessTech = 1 << 12
	TechEVDOB      AccessTech = 1 << 13
	TechLTE        AccessTech = 1 << 14
	Tech5GNR       AccessTech = 1 << 15
	TechLTECatM    AccessTech = 1 << 16
	TechLTENBIoT   AccessTech = 1 << 17
)

var techNames = []string{
	"pots", "gsm", "gsm-compact", "gprs", "edge", "umts", "hsdpa", "hsupa", "hspa",
	"hspa-plus", "1xrtt", "evdo0", "evdoa", "evdob", "lte", "5gnr", "lte-cat-m", "lte-nb-iot",
}

// String lists the set bits' names, comma-separated ("gsm,edge"); "unknown"
// for none.
func (t AccessTech) String() string {
	var names []string
	for i, n := range techNames {
		if t&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "unknown"
	}
	return strings.Join(names, ",")
}

// Generation is the highest mobile generation among the bits: 2 for
// GSM/GPRS/EDGE, 3 for UMTS/HSPA and CDMA2000, 4 for LTE (Cat-M and NB-IoT
// included), 5 for 5G NR; 0 when none is set. A dashboard plots this; the
// bitmask is for whoever needs the detail.
func (t AccessTech) Generation() int {
	switch {
	case t&Tech5GNR != 0:
		return 5
	case t&(TechLTE|TechLTECatM|TechLTENBIoT) != 0:
		return 4
	case t&(TechUMTS|TechHSDPA|TechHSUPA|TechHSPA|TechHSPAPlus|Tech1xRTT|TechEVDO0|TechEVDOA|TechEVDOB) != 0:
		return 3
	case t&(TechGSM|TechGSMCompact|TechGPRS|TechEDGE) != 0:
		return 2
	}
	return 0
}
