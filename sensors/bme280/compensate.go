package bme280

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// calibration holds the chip's trimming parameters (BME280 datasheet
// table 16, "Compensation parameter storage, naming and data type").
type calibration struct {
	t1                             uint16
	t2, t3                         int16
	p1                             uint16
	p2, p3, p4, p5, p6, p7, p8, p9 int16
	h1                             uint8
	h2                             int16
	h3                             uint8
	h4, h5                         int16 // 12-bit signed
	h6                             int8
}

// parseCalibration parses the 26 bytes from 0x88 (T1-P9, a reserved byte,
// H1) and, on a BME280, the 7 bytes from 0xE1 (H2-H6; nil on a BMP280).
func parseCalibration(tp, h []byte) calibration {
	le := binary.LittleEndian
	c := calibration{
		t1: le.Uint16(tp[0:]), t2: int16(le.Uint16(tp[2:])), t3: int16(le.Uint16(tp[4:])),
		p1: le.Uint16(tp[6:]), p2: int16(le.Uint16(tp[8:])), p3: int16(le.Uint16(tp[10:])),
		p4: int16(le.Uint16(tp[12:])), p5: int16(le.Uint16(tp[14:])), p6: int16(le.Uint16(tp[16:])),
		p7: int16(le.Uint16(tp[18:])), p8: int16(le.Uint16(tp[20:])), p9: int16(le.Uint16(tp[22:])),
		h1: tp[25],
	}
	if h != nil {
		c.h2 = int16(le.Uint16(h[0:]))
		c.h3 = h[2]
		// 0xE4 is H4's bits 11-4 and 0xE6 H5's, each the sign-carrying
		// byte of a 12-bit two's complement value; 0xE5 holds H4's bits
		// 3-0 (low nibble) and H5's (high nibble). Bosch's reference
		// driver sign-extends through (int8_t), the kernel with
		// sign_extend32(…, 11); periph's bmxx80 (up to v3.7.4) reads
		// them unsigned, and a negative H5 then reads 0 %RH.
		c.h4 = int16(int8(h[3]))*16 | int16(h[4]&0x0F)
		c.h5 = int16(int8(h[5]))*16 | int16(h[4]>>4)
		c.h6 = int8(h[6])
	}
	return c
}

// check refuses calibration that no chip carries: dig_T1 and dig_P1 are
// unsigned, never 0 (pressure compensation divides by dig_P1) and never
// 0xFFFF, what a bus held low or high returns.
func (c *calibration) check() error {
	for _, v := range []struct {
		name string
		v    uint16
	}{{"dig_T1", c.t1}, {"dig_P1", c.p1}} {
		if v.v == 0 || v.v == 0xFFFF {
			return fmt.Errorf("calibration %s reads 0x%04x: not a chip's trimming (a bus held low or high?)", v.name, v.v)
		}
	}
	return nil
}

// The datasheet's fixed-point compensation (section 4.2.3, "Compensation
// formulas"), integer arithmetic as in Bosch's reference code.

// temperature returns 0.01 °C and t_fine from the 20-bit raw value.
func (c *calibration) temperature(adc int32) (centi, tFine int32) {
	v1 := ((adc>>3 - int32(c.t1)<<1) * int32(c.t2)) >> 11
	d := adc>>4 - int32(c.t1)
	v2 := (((d * d) >> 12) * int32(c.t3)) >> 14
	tFine = v1 + v2
	return (tFine*5 + 128) >> 8, tFine
}

// errPressureDiv is the division by zero Bosch's code returns 0 for.
var errPressureDiv = errors.New("pressure compensation would divide by zero (dig_P1 is 0)")

// pressure returns Pa in Q24.8 from the 20-bit raw value.
func (c *calibration) pressure(adc, tFine int32) (uint32, error) {
	v1 := int64(tFine) - 128000
	v2 := v1 * v1 * int64(c.p6)
	v2 += (v1 * int64(c.p5)) << 17
	v2 += int64(c.p4) << 35
	v1 = (v1*v1*int64(c.p3))>>8 + (v1*int64(c.p2))<<12
	v1 = ((int64(1)<<47 + v1) * int64(c.p1)) >> 33
	if v1 == 0 {
		return 0, errPressureDiv
	}
	p := int64(1048576 - adc)
	p = ((p<<31 - v2) * 3125) / v1
	v1 = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
	v2 = (int64(c.p8) * p) >> 19
	return uint32((p+v1+v2)>>8 + int64(c.p7)<<4), nil
}

// humidity returns %RH in Q22.10 from the 16-bit raw value.
func (c *calibration) humidity(adc, tFine int32) uint32 {
	x := tFine - 76800
	a := (adc<<14 - int32(c.h4)<<20 - int32(c.h5)*x + 16384) >> 15
	b := ((((x*int32(c.h6))>>10)*(((x*int32(c.h3))>>11)+32768))>>10 + 2097152) * int32(c.h2)
	x = a * ((b + 8192) >> 14)
	x -= (((x >> 15) * (x >> 15)) >> 7) * int32(c.h1) >> 4
	x = min(max(x, 0), 419430400)
	return uint32(x >> 12)
}

// Raw values the chip writes for a measurement it skipped (oversampling
// 0), as the kernel's bmp280-core.c checks them.
const (
	skipped20 = 0x80000
	skipped16 = 0x8000
)

// measureTime is the datasheet's maximum measurement time (section 9.1,
// t_measure,max) for the oversampling counts (0 = off).
func measureTime(t, p, h int) time.Duration {
	us := 1250 + 2300*t
	if p > 0 {
		us += 2300*p + 575
	}
	if h > 0 {
		us += 2300*h + 575
	}
	return time.Duration(us) * time.Microsecond
}
