package vedirect

import "strings"

// textBlock builds a text block as "VE.Direct Protocol" defines it: each
// field "\r\n<label>\t<value>", then "\r\nChecksum\t" and the byte that
// makes the sum of all the block's bytes 0 modulo 256. kv alternates
// labels and values.
func textBlock(kv ...string) []byte {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("\r\n" + kv[i] + "\t" + kv[i+1])
	}
	b.WriteString("\r\nChecksum\t")
	var sum byte
	for _, c := range []byte(b.String()) {
		sum += c
	}
	return append([]byte(b.String()), -sum)
}

// The field sets below are the document's per product family ("Text-mode":
// the tables of fields per product), with plausible values.

// mpptFields is a BlueSolar MPPT 75/15: PID 0xA053.
var mpptFields = []string{
	"PID", "0xA053", "FW", "150", "SER#", "HQ1328A1B2C",
	"V", "12810", "I", "-10", "VPV", "18330", "PPV", "47",
	"CS", "3", "MPPT", "2", "OR", "0x00000000", "ERR", "0",
	"LOAD", "ON", "IL", "1300",
	"H19", "10206", "H20", "12", "H21", "51", "H22", "34", "H23", "60", "HSDS", "279",
}

// bmvFields is a BMV-700's first block; its history block is bmvHistory.
// SOC "---": not yet synchronised; TTG -1: infinite (not discharging).
var bmvFields = []string{
	"PID", "0x203", "V", "26201", "I", "0", "P", "0", "CE", "0",
	"SOC", "---", "TTG", "-1", "Alarm", "OFF", "Relay", "OFF", "AR", "0",
	"BMV", "700", "FW", "0307",
}

var bmvHistory = []string{
	"H1", "-102", "H2", "-50", "H3", "0", "H4", "3", "H5", "0", "H6", "-3100",
	"H7", "11733", "H8", "16161", "H9", "368003", "H10", "26", "H11", "0", "H12", "0",
	"H17", "6843", "H18", "8527",
}

// inverterFields is a Phoenix Inverter 12/250: AC out 230.00 V, 0.8 A, 184 VA.
var inverterFields = []string{
	"PID", "0xA231", "FW", "0114", "SER#", "HQ1621ABCDE",
	"MODE", "2", "CS", "9", "AC_OUT_V", "23000", "AC_OUT_I", "8", "AC_OUT_S", "184",
	"V", "12780", "AR", "0", "WARN", "0", "OR", "0x00000000",
}

// Two blocks recorded from a real BMV-702 (karioja/vedirect, MIT,
// test/bvm702.dump): the main block and its history block, each with the
// checksum the device computed. recordedColonChecksum is a later block
// whose checksum byte happens to be ':' — not the start of a HEX frame.
const (
	recordedBMV = "\r\nPID\t0x203\r\nV\t12065\r\nI\t-7625\r\nP\t-92\r\nCE\t-65473\r\nSOC\t839\r\nTTG\t942\r\nAlarm\tOFF\r\nRelay\tOFF\r\nAR\t0\r\nBMV\t700\r\nFW\t0308\r\nChecksum\tq" +
		"\r\nH1\t-149322\r\nH2\t-82854\r\nH3\t0\r\nH4\t0\r\nH5\t0\r\nH6\t-5526294\r\nH7\t11733\r\nH8\t16161\r\nH9\t368003\r\nH10\t26\r\nH11\t0\r\nH12\t0\r\nH17\t6843\r\nH18\t8527\r\nChecksum\t\xbc"
	recordedColonChecksum = "\r\nPID\t0x203\r\nV\t12164\r\nI\t-2674\r\nP\t-33\r\nCE\t-65887\r\nSOC\t837\r\nTTG\t2199\r\nAlarm\tOFF\r\nRelay\tOFF\r\nAR\t0\r\nBMV\t700\r\nFW\t0308\r\nChecksum\t:"
)

// hexFrames are asynchronous HEX frames as a SmartSolar sends them
// (recorded in the same repository, test/smartsolar_1.39.dump).
const hexFrames = ":A5010000000000000000000000D05F904000000000000000000000000000000000001000000DB\n" +
	":A4F1000010000000000000000000000000001000D0500F904FFFFFFFFFFFFFFFFFFFFFFFFFFE8\n"

// pairs turns alternating labels and values into Fields.
func pairs(kv ...string) []Field {
	var out []Field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Field{kv[i], kv[i+1]})
	}
	return out
}
