package agent

import (
	"fmt"
	"testing"
)

const remoteRule = `version = %d
[[rule]]
name = "counter_high"
when = "a.value > 1"
severity = "info"
`

// [[rule]] and [[derive]] are set remotely only with their [remote] allow
// entries; an exec [[output]] never, whatever allow says.
func TestRemoteRulesNeedTheirAllowEntries(t *testing.T) {
	r := newRemoteRig(t, "") // default allow: sensor, stream, budget
	res := r.set(fmt.Sprintf(remoteRule, 1))
	if res.Status != StatusRejected || !hasErr(res, "rule", -1) {
		t.Fatalf("rule without \"rule\" in allow: %+v, want rejected at rule", res)
	}

	r = newRemoteRig(t, `allow = ["sensor", "stream", "rule", "derive", "output", "exec"]`)
	res = r.set(fmt.Sprintf(remoteRule, 1))
	if res.Status != StatusApplied {
		t.Fatalf("rule with \"rule\" in allow: %+v, want applied", res)
	}
	r.waitFor("the remote rule running", func() bool {
		list := r.a.rules.current()
		return list != nil && len(list.Alarms()) == 1 && list.Alarms()[0].Rule == "counter_high"
	})
	res = r.set(fmt.Sprintf(`version = %d
[[output]]
name = "pump"
driver = "exec"
command = ["/bin/true"]
on = "a.value > 1"
`, 2))
	if res.Status != StatusRejected || !hasErr(res, "output[0].driver", -1) {
		t.Fatalf("remote exec output: %+v, want rejected at output[0].driver", res)
	}
}
