package provision

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files of the identity directory.
const (
	IdentityDirName = "identity"
	KeyFile         = "device.key" // private key, PKCS#8 PEM, 0600: never leaves the box
	CSRFile         = "device.csr" // certificate signing request, PEM: sent to the CA
	PublicKeyFile   = "device.pub" // public key, PEM: for the operator's records
	CertFile        = "device.crt" // where the operator puts the signed certificate
)

// Identity is the device's key pair and CSR on disk.
type Identity struct {
	Dir         string // the identity directory (0700)
	KeyPath     string
	CSRPath     string
	PubPath     string
	CertPath    string // not written by init: the CA's answer goes here
	DeviceID    string // the CSR's common name
	KeyType     string // "ECDSA P-256" for a key init made
	Fingerprint string // SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex
	KeyCreated  bool   // false: an existing key was reused
	CSRWritten  bool   // false: the existing CSR already matched
	Notes       []string
}

// EnsureIdentity makes sure dir holds a private key and a CSR for deviceID,
// creating what is missing: the directory (0700), an ECDSA P-256 key
// (0600), the public key and the CSR (0644). An existing key is reused and
// never rewritten; one that cannot be parsed is an error (it is never
// replaced: it may be the key a certificate was issued for). The CSR and
// public key are rewritten when they do not match the key or the id.
// owner (when set, and running as root) owns the directory and the files,
// so the daemon's user can read the key.
func EnsureIdentity(dir, deviceID string, owner Owner) (*Identity, error) {
	if deviceID == "" {
		return nil, errors.New("identity: empty device id")
	}
	id := &Identity{
		Dir:      dir,
		KeyPath:  filepath.Join(dir, KeyFile),
		CSRPath:  filepath.Join(dir, CSRFile),
		PubPath:  filepath.Join(dir, PublicKeyFile),
		CertPath: filepath.Join(dir, CertFile),
		DeviceID: deviceID,
	}
	if _, err := ensureDir(dir, 0o700, owner); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := tighten(dir, 0o700, id); err != nil {
		return nil, err
	}

	key, err := loadKey(id.KeyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key, err = newKey(id.KeyPath, owner)
		if err != nil {
			return nil, err
		}
		id.KeyCreated = true
	case err != nil:
		return nil, err
	default:
		if err := tighten(id.KeyPath, 0o600, id); err != nil {
			return nil, err
		}
	}
	id.KeyType = keyType(key.Public())

	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("identity: %s: public key: %w", id.KeyPath, err)
	}
	sum := sha256.Sum256(spki)
	id.Fingerprint = hex.EncodeToString(sum[:])

	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	if old, err := os.ReadFile(id.PubPath); err != nil || !bytes.Equal(old, pub) {
		if err := replaceFile(id.PubPath, pub, 0o644, owner); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}

	if !csrMatches(id.CSRPath, deviceID, spki) {
		if err := writeCSR(id, key, owner); err != nil {
			return nil, err
		}
	}
	// init may have run before the service user existed (install.sh makes
	// it): hand what is there to it now, so the daemon can read the key.
	for _, p := range []string{id.Dir, id.KeyPath, id.PubPath, id.CSRPath} {
		if err := owner.chownPath(p); err != nil {
			return nil, fmt.Errorf("identity: chown %s: %w", p, err)
		}
	}
	return id, nil
}

// writeCSR writes a CSR signed by key with the device id as common name.
func writeCSR(id *Identity, key crypto.Signer, owner Owner) error {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: id.DeviceID},
	}, key)
	if err != nil {
		return fmt.Errorf("identity: CSR for %q: %w", id.DeviceID, err)
	}
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if _, err := os.Stat(id.CSRPath); err == nil {
		id.Notes = append(id.Notes, fmt.Sprintf("%s did not match the key or device id %q: rewritten", id.CSRPath, id.DeviceID))
	}
	if err := replaceFile(id.CSRPath, csr, 0o644, owner); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	id.CSRWritten = true
	return nil
}

// newKey generates an ECDSA P-256 key and writes it to path, never over an
// existing file.
func newKey(path string, owner Owner) (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("identity: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := WriteNewFile(path, data, 0o600, owner); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return k, nil
}

// loadKey reads a PEM private key (PKCS#8, or SEC1 "EC PRIVATE KEY", or
// PKCS#1 RSA) that can sign a CSR.
func loadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("identity: %w", err)
	}
	bad := func(why string, err error) (crypto.Signer, error) {
		if err != nil {
			why += ": " + err.Error()
		}
		return nil, fmt.Errorf("identity: %s exists but %s; it is left untouched (move it aside to create a new key, which needs a new certificate)", path, why)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return bad("holds no PEM block", nil)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return bad(fmt.Sprintf("holds a %q PEM block, not a private key", block.Type), nil)
	}
	if err != nil {
		return bad("cannot be parsed", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return bad(fmt.Sprintf("holds an unsupported key type %T", key), nil)
}

// csrMatches reports whether path holds a valid CSR for deviceID with the
// public key spki.
func csrMatches(path, deviceID string, spki []byte) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return false
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		return false
	}
	return csr.Subject.CommonName == deviceID && bytes.Equal(csr.RawSubjectPublicKeyInfo, spki)
}

// tighten clears group and other permission bits on a key or its directory
// if someone loosened them, and says so.
func tighten(path string, perm fs.FileMode, id *Identity) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	id.Notes = append(id.Notes, fmt.Sprintf("%s was mode %#o: set to %#o", path, fi.Mode().Perm(), perm))
	return nil
}

func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}
