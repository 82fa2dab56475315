//go:build karana_testhooks

package agent

import (
	"fmt"
	"os"
	"syscall"
)

// FaultEnv names the install step at which a test build kills itself with
// SIGKILL ("chunk:N" after the Nth verified chunk; "write", "rename",
// "installed"): a power cut at that point.
const FaultEnv = "KARANA_EDGE_TEST_FAULT"

var chunks int

func faultHook(step string) {
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
