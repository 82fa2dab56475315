package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/remote"
)

func TestSign(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ops.key")
	var out, errb bytes.Buffer
	if code := runCLI([]string{"sign", "-genkey", keyFile}, &out, &errb); code != exitOK {
		t.Fatalf("genkey: %d %s", code, errb.String())
	}
	_, pubLine, ok := strings.Cut(out.String(), "public_key = ")
	if !ok {
		t.Fatalf("genkey printed %q", out.String())
	}
	pub, err := remote.ParsePublicKey([]byte(strings.Trim(strings.TrimSpace(pubLine), `"`)))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	doc := filepath.Join(dir, "set.toml")
	body := "version = 7\n[[sensor]]\nname = \"a\"\ndriver = \"sim\"\n"
	if err := os.WriteFile(doc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := runCLI([]string{"sign", "-key", keyFile, doc}, &out, &errb); code != exitOK {
		t.Fatalf("sign: %d %s", code, errb.String())
	}
	got, err := remote.Open(bytes.TrimSpace(out.Bytes()), pub)
	if err != nil || string(got) != body {
		t.Fatalf("envelope does not verify: %v (%q)", err, got)
	}
	// a document without version is refused before signing
	if err := os.WriteFile(doc, []byte("[[sensor]]\nname = \"a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := runCLI([]string{"sign", "-key", keyFile, doc}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "version") {
		t.Errorf("unversioned doc: %d %s", code, errb.String())
	}
}
