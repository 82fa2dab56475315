//go:build karana_testhooks

package agent

import (
	"fmt"
	"os"
	"syscall"
)

var chunks int

var faultHook = func(step string) {
	want := os.Getenv(FaultEnv)
	if want == "" {
		return
	}
	if step == "chunk" {
		chunks++
		step = fmt.Sprintf("chunk:%d", chunks)
	}
	if step == want {
		fmt.Fprintf(os.Stderr, "TEST FAULT: SIGKILL at %s\n", step)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
