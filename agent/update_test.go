package agent

import (
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
)

// TestUpdateNeedsAKey: an enabled [update] without any key to verify with
// is refused by check, with its position.
func TestUpdateNeedsAKey(t *testing.T) {
	base := "[device]\nid = \"x\"\ndata_dir = \"/tmp/x\"\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"
	_, err := ParseConfig("u.toml", []byte(base+"[update]\nenabled = true\n"))
	if err == nil || !strings.Contains(err.Error(), "update.enabled") || !strings.Contains(err.Error(), "must be signed") {
		t.Errorf("[update] enabled without a key: %v", err)
	}
	_, pub, _ := remote.GenerateKey()
	for _, tail := range []string{
		"[update]\nenabled = true\npublic_key = \"" + pub + "\"\n",
		"[update]\nenabled = true\n[remote]\npublic_key = \"" + pub + "\"\n",
	} {
		c, err := ParseConfig("u.toml", []byte(base+tail))
		if err != nil {
			t.Fatalf("%q: %v", tail, err)
		}
		if k, err := c.updateKey(); err != nil || k == nil {
			t.Errorf("%q: update key %v, %v", tail, k, err)
		}
	}
	_, err = ParseConfig("u.toml", []byte(base+"[update]\nmax_trial_starts = 0\nconfirm_timeout = \"0s\"\n"))
	for _, want := range []string{"update.max_trial_starts", "update.confirm_timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error at %s, got %v", want, err)
		}
	}
}

// TestUpdateIsLocalOnly: no remote document sets [update], whatever the
// local [remote] allow says; who signs binaries stays the local file's.
func TestUpdateIsLocalOnly(t *testing.T) {
	_, pub, _ := remote.GenerateKey()
	_, other, _ := remote.GenerateKey()
	local := `[device]
id = "x"
data_dir = "` + t.TempDir() + `"
[remote]
enabled = true
allow = ["sensor", "remote"]
public_key = "` + pub + `"
[update]
enabled = true
[[sensor]]
name = "a"
driver = "sim"
`
	_, err := mergeLocal(t, local, "version = 1\n[update]\nenabled = true\npublic_key = \""+other+"\"\n")
	errs, _ := config.AsErrors(err)
	refused := false
	for _, e := range errs {
		refused = refused || strings.Contains(e.Key+e.Msg, "update")
	}
	if !refused {
		t.Fatalf("a remote document set [update]: %v", err)
	}
	// With "remote" allowed a document may change [remote] public_key; the
	// updater still reads its key from the local file.
	next, err := mergeLocal(t, local, "version = 1\n[remote]\nenabled = true\nallow = [\"sensor\", \"remote\"]\npublic_key = \""+other+"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadConfig(next.File)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := fromFile.updateKey()
	want, _ := remote.ParsePublicKey([]byte(pub))
	if !k.Equal(want) {
		t.Errorf("the update key followed the remote document's [remote] public_key")
	}
}
