//go:build !linux

package sensors

func newAlarm() alarm { return newTimerAlarm() }
