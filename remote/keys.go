package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ParsePublicKey reads an ed25519 public key given as base64 of its 32
// bytes, or as PEM "PUBLIC KEY" (SubjectPublicKeyInfo, what `openssl pkey
// -pubout` writes).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(data))
	if strings.HasPrefix(s, "-----BEGIN") {
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return nil, errors.New("public key: malformed PEM")
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pk, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T is not ed25519", k)
		}
		return pk, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key: not PEM and not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d (ed25519)", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// ReadPublicKey is ParsePublicKey on a file.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParsePrivateKey reads a PEM "PRIVATE KEY" (PKCS#8) ed25519 key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, errors.New("private key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	pk, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key: %T is not ed25519", k)
	}
	return pk, nil
}

// GenerateKey returns a new key pair: the private key as PEM PKCS#8 and the
// public key as base64, ready for [remote] public_key.
func GenerateKey() (privPEM []byte, pubB64 string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), base64.StdEncoding.EncodeToString(pub), nil
}

// LoadPublicKey is the key a config section names, inline (base64 or PEM)
// or in a file; nil when it names none.
func LoadPublicKey(inline, file string) (ed25519.PublicKey, error) {
	switch {
	case inline != "":
		return ParsePublicKey([]byte(inline))
	case file != "":
		return ReadPublicKey(file)
	}
	return nil, nil
}
