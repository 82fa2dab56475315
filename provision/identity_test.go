package provision

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func readPEM(t *testing.T, path, typ string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: want one %q PEM block, got %q", path, typ, data)
	}
	return b.Bytes
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// checkIdentity asserts the files on disk: modes, a P-256 key, a CSR for
// deviceID whose signature verifies and whose public key is the key's.
func checkIdentity(t *testing.T, id *Identity, deviceID string) *ecdsa.PrivateKey {
	t.Helper()
	if m := mode(t, id.Dir); m != 0o700 {
		t.Errorf("identity dir mode %#o, want 0700", m)
	}
	if m := mode(t, id.KeyPath); m != 0o600 {
		t.Errorf("key mode %#o, want 0600", m)
	}
	k, err := x509.ParsePKCS8PrivateKey(readPEM(t, id.KeyPath, "PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", k)
	}
	csr, err := x509.ParseCertificateRequest(readPEM(t, id.CSRPath, "CERTIFICATE REQUEST"))
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Errorf("CSR signature: %v", err)
	}
	if csr.Subject.CommonName != deviceID {
		t.Errorf("CSR CN %q, want %q", csr.Subject.CommonName, deviceID)
	}
	if pub, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Error("the CSR's public key is not the device key's")
	}
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(spki)
	if id.Fingerprint != hex.EncodeToString(sum[:]) {
		t.Errorf("fingerprint %s, want sha256 of the SPKI", id.Fingerprint)
	}
	if got := readPEM(t, id.PubPath, "PUBLIC KEY"); !bytes.Equal(got, spki) {
		t.Error("device.pub is not the key's public key")
	}
	if id.KeyType != "ECDSA P-256" {
		t.Errorf("key type %q", id.KeyType)
	}
	return key
}

func TestEnsureIdentityCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc/karana-edge/identity")
	id, err := EnsureIdentity(dir, "karana-0123456789ab", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if !id.KeyCreated || !id.CSRWritten {
		t.Errorf("fresh dir: KeyCreated %v CSRWritten %v", id.KeyCreated, id.CSRWritten)
	}
	checkIdentity(t, id, "karana-0123456789ab")
	key1, _ := os.ReadFile(id.KeyPath)
	csr1, _ := os.ReadFile(id.CSRPath)

	again, err := EnsureIdentity(dir, "karana-0123456789ab", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if again.KeyCreated || again.CSRWritten || again.Fingerprint != id.Fingerprint {
		t.Errorf("second run: KeyCreated %v CSRWritten %v fingerprint changed %v", again.KeyCreated, again.CSRWritten, again.Fingerprint != id.Fingerprint)
	}
	key2, _ := os.ReadFile(id.KeyPath)
	csr2, _ := os.ReadFile(id.CSRPath)
	if !bytes.Equal(key1, key2) || !bytes.Equal(csr1, csr2) {
		t.Error("second run rewrote the key or the CSR")
	}

	// A new device id gets a new CSR for the same key.
	renamed, err := EnsureIdentity(dir, "site-042", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if renamed.KeyCreated || !renamed.CSRWritten || renamed.Fingerprint != id.Fingerprint || len(renamed.Notes) == 0 {
		t.Errorf("new id: KeyCreated %v CSRWritten %v same key %v notes %q", renamed.KeyCreated, renamed.CSRWritten, renamed.Fingerprint == id.Fingerprint, renamed.Notes)
	}
	checkIdentity(t, renamed, "site-042")
	if key3, _ := os.ReadFile(id.KeyPath); !bytes.Equal(key1, key3) {
		t.Error("a new device id replaced the key")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// A key made elsewhere (openssl ecparam -genkey writes SEC1 "EC PRIVATE
// KEY") is reused, and loosened modes are tightened.
func TestEnsureIdentityReusesForeignKeyAndTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	os.MkdirAll(dir, 0o755)
	os.Chmod(dir, 0o755)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(k)
	keyPath := filepath.Join(dir, KeyFile)
	orig := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	os.WriteFile(keyPath, orig, 0o644)
	os.Chmod(keyPath, 0o644)

	id, err := EnsureIdentity(dir, "box-7", Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if id.KeyCreated {
		t.Error("an existing key was replaced")
	}
	if got, _ := os.ReadFile(keyPath); !bytes.Equal(got, orig) {
		t.Error("the existing key file was rewritten")
	}
	if mode(t, dir) != 0o700 || mode(t, keyPath) != 0o600 || len(id.Notes) != 2 {
		t.Errorf("modes dir %#o key %#o, notes %q", mode(t, dir), mode(t, keyPath), id.Notes)
	}
	csr, err := x509.ParseCertificateRequest(readPEM(t, id.CSRPath, "CERTIFICATE REQUEST"))
	if err != nil {
		t.Fatal(err)
	}
	if !csr.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) || csr.CheckSignature() != nil {
		t.Error("the CSR is not signed by the existing key")
	}
}

// A key file that does not parse is never replaced: it may be the key a
// certificate was issued for, damaged by something init cannot undo.
func TestEnsureIdentityRefusesBadKey(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":     "not a key\n",
		"certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"truncated":   "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			keyPath := filepath.Join(dir, KeyFile)
			os.WriteFile(keyPath, []byte(content), 0o600)
			_, err := EnsureIdentity(dir, "box-7", Owner{})
			if err == nil || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "left untouched") {
				t.Fatalf("err %v, want one naming %s and saying it is left untouched", err, keyPath)
			}
			if got, _ := os.ReadFile(keyPath); string(got) != content {
				t.Error("the bad key file was changed")
			}
			if _, err := os.Stat(filepath.Join(dir, CSRFile)); err == nil {
				t.Error("a CSR was written without a usable key")
			}
		})
	}
}

// As root, the identity belongs to the service user so the daemon can
// read its key.
func TestEnsureIdentityOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := filepath.Join(t.TempDir(), "identity")
	owner := Owner{UID: 4242, GID: 4243, Set: true}
	id, err := EnsureIdentity(dir, "box-7", owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{id.Dir, id.KeyPath, id.CSRPath, id.PubPath} {
		fi, _ := os.Stat(p)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 4242 || st.Gid != 4243 {
			t.Errorf("%s owned by %d:%d, want 4242:4243", p, st.Uid, st.Gid)
		}
	}
	// An identity made before the user existed is handed over on re-run.
	other := filepath.Join(t.TempDir(), "identity")
	if _, err := EnsureIdentity(other, "box-7", Owner{}); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureIdentity(other, "box-7", owner); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(other, KeyFile))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 {
		t.Errorf("re-run did not hand the key to the service user: uid %d", st.Uid)
	}
}
