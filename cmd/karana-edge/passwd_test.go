package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestPasswdAndCheck: passwd writes a bcrypt hash of the password read
// from stdin (checked with bcrypt itself), and check refuses a page on
// the network without it and takes it with it.
func TestPasswdAndCheck(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "http.passwd")
	cfgFor := func(listen, passwordFile string) string {
		p := filepath.Join(dir, "c.toml")
		text := fmt.Sprintf("[device]\nid = \"b\"\ndata_dir = %q\n[http]\nlisten = %q\n", dir, listen)
		if passwordFile != "" {
			text += fmt.Sprintf("password_file = %q\n", passwordFile)
		}
		text += "[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	code, _, errs := runArgs("check", "-config", cfgFor("0.0.0.0:8080", ""))
	if code != exitConfig || !strings.Contains(errs, "http.listen") || !strings.Contains(errs, "set password_file") {
		t.Errorf("check of a page on 0.0.0.0 without a password: exit %d\n%s", code, errs)
	}
	if code, _, errs := runArgs("check", "-config", cfgFor("127.0.0.1:8080", "")); code != exitOK {
		t.Errorf("check of a loopback page: exit %d\n%s", code, errs)
	}

	passwd := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cmdPasswd(args, strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errs := passwd("short\n", "-file", pw); code != exitConfig || !strings.Contains(errs, "at least 8") {
		t.Errorf("a 5-byte password: exit %d %s", code, errs)
	}
	if code, _, errs := passwd("", "-file", pw, "secret-on-argv"); code != exitConfig || !strings.Contains(errs, "never from the command line") {
		t.Errorf("a password on argv: exit %d %s", code, errs)
	}
	if code, _, errs := passwd("correct horse\n", "-config", cfgFor("127.0.0.1:8080", "")); code != exitConfig || !strings.Contains(errs, "no [http] password_file") {
		t.Errorf("no file to write: exit %d %s", code, errs)
	}
	if _, err := os.Stat(pw); err == nil {
		t.Fatal("a refused passwd wrote the file")
	}
	code, out, errs := passwd("correct horse\n", "-config", cfgFor("0.0.0.0:8080", pw))
	if code != exitOK || !strings.Contains(out, pw) {
		t.Fatalf("passwd: exit %d\n%s%s", code, out, errs)
	}
	hash, err := os.ReadFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword(bytes.TrimSpace(hash), []byte("correct horse")); err != nil {
		t.Errorf("the file is not the password's bcrypt hash: %v (%q)", err, hash)
	}
	if fi, _ := os.Stat(pw); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if code, _, errs := runArgs("check", "-config", cfgFor("0.0.0.0:8080", pw)); code != exitOK {
		t.Errorf("check with the password file: exit %d\n%s", code, errs)
	}
}
