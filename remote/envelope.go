package remote

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// AlgEd25519 is the only envelope algorithm.
const AlgEd25519 = "ed25519"

// Envelope is a signed document (see the package doc).
type Envelope struct {
	Alg string `json:"alg"`
	Doc string `json:"doc"`
	Sig string `json:"sig"`
}

// Sign wraps doc in an envelope signed with key.
func Sign(key ed25519.PrivateKey, doc []byte) ([]byte, error) {
	env := Envelope{
		Alg: AlgEd25519,
		Doc: base64.StdEncoding.EncodeToString(doc),
		Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, doc)),
	}
	return json.Marshal(env)
}

// ErrUnsigned is returned when a key is configured and the payload is not
// an envelope.
var ErrUnsigned = errors.New("document is not signed, and [remote] public_key requires a signature envelope")

// asEnvelope reports whether payload is an envelope, and decodes it.
func asEnvelope(payload []byte) (*Envelope, bool) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, false
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(p, &probe) != nil {
		return nil, false
	}
	_, hasSig := probe["sig"]
	_, hasDoc := probe["doc"]
	if !hasSig || !hasDoc {
		return nil, false
	}
	var env Envelope
	if json.Unmarshal(p, &env) != nil {
		return &Envelope{}, true // shaped like one; Open reports it
	}
	return &env, true
}

// Open returns the document inside payload. With key set, payload must be
// an envelope whose signature verifies; without, an envelope is unwrapped
// unverified and anything else is returned as is.
func Open(payload []byte, key ed25519.PublicKey) ([]byte, error) {
	env, ok := asEnvelope(payload)
	if !ok {
		if key != nil {
			return nil, ErrUnsigned
		}
		return payload, nil
	}
	if env.Alg != AlgEd25519 {
		return nil, fmt.Errorf("signature envelope: alg %q, want %q", env.Alg, AlgEd25519)
	}
	doc, err := base64.StdEncoding.DecodeString(env.Doc)
	if err != nil {
		return nil, fmt.Errorf("signature envelope: doc: %w", err)
	}
	if key == nil {
		return doc, nil
	}
	sig, err := base64.StdEncoding.DecodeString(env.Sig)
	if err != nil {
		return nil, fmt.Errorf("signature envelope: sig: %w", err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(key, doc, sig) {
		return nil, errors.New("signature envelope: signature does not verify with [remote] public_key")
	}
	return doc, nil
}
