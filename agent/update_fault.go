//go:build !karana_testhooks

package agent

// faultHook is the self-update's fault points; only test builds
// (-tags karana_testhooks) have any.
var faultHook func(step string)
