package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRejectsWhatRunCannotDo: the four configs that `check`
// passed and `run` then failed on exit 2, each with file:line:col: key.
func TestCheckRejectsWhatRunCannotDo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "[device]\nid = \"site-042\"\ndata_dir = %DATA%\nboard = \"sim\"\n[mqtt]\nbroker = %BROKER%\n" +
		"[[sensor]]\nname = \"s\"\ndriver = \"sim\"\nschedule = [%SCHED%]\n"
	fill := func(data, broker, sched string) string {
		return strings.NewReplacer("%DATA%", data, "%BROKER%", broker, "%SCHED%", sched).Replace(base)
	}
	okData, okBroker, okSched := `"`+filepath.Join(dir, "data")+`"`, `"tcp://127.0.0.1:1883"`, `"0 0 29 2 *"`
	for _, tc := range []struct{ name, src, want string }{
		{"port", fill(okData, `"tcp://127.0.0.1:99999"`, okSched), ":6:1: mqtt.broker: port 99999"},
		{"data_dir", fill(`"`+file+`"`, okBroker, okSched), ":3:1: device.data_dir: " + file + " is a file"},
		{"id", strings.Replace(fill(okData, okBroker, okSched), "site-042", strings.Repeat("x", 10<<20), 1), ":2:1: device.id: the device id is 10485760 bytes long"},
		{"schedule", fill(okData, okBroker, `"0 0 30 2 *"`), ":10:13: sensor[0].schedule[0]: cron \"0 0 30 2 *\": never fires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".toml")
			if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errs := runArgs("check", "-config", path)
			if code != exitConfig || !strings.Contains(errs, path+tc.want) {
				t.Errorf("exit %d, stderr %.300q; want exit %d and %q", code, errs, exitConfig, path+tc.want)
			}
		})
	}
	path := filepath.Join(dir, "ok.toml")
	if err := os.WriteFile(path, []byte(fill(okData, okBroker, okSched)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runArgs("check", "-config", path); code != exitOK {
		t.Errorf("valid config: exit %d\n%s", code, errs)
	}
}
