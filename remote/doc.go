// Package remote holds the pure parts of configuration over MQTT: parsing a
// config/set document (TOML, or JSON of the same shape, optionally inside a
// signature envelope), merging it over the local file, the allowed-key
// policy and ed25519 keys. It does no I/O beyond reading key files; the
// agent applies what it returns.
//
// # Documents
//
// A config/set payload is a TOML document with the local file's schema plus
// a top-level integer "version", or a JSON object of the same shape. The
// top-level sections it contains replace the current ones whole (a
// [[sensor]] list replaces the whole list); sections it leaves out stay.
// One exception: a section that sets only keys of a part (the budget keys
// of [mqtt]) changes those keys and keeps the rest (Schema.Patches).
//
// # Policy
//
// What a document may set is declared on the config struct itself, a
// `remote` tag per section and, where a section's keys differ, per key
// (Schema); [remote] allow names the entries a box accepts (Policy).
// A version lower than or equal to the current one is a replay. Versions
// are at most MaxVersion (2^53) and at most MaxVersionStep above the
// current one (CheckVersion), and the size and depth of a document are
// bounded before it is decoded (MaxDocument, config.MaxDepth).
//
// # Signature envelope
//
// When [remote] public_key is set, the payload must be this JSON object:
//
//	{"alg":"ed25519","doc":"<base64 of the document bytes>","sig":"<base64 of the ed25519 signature over those bytes>"}
//
// base64 is standard encoding with padding (RFC 4648 §4). The signature
// covers the document bytes exactly as carried in "doc" (TOML or JSON), so
// nothing is canonicalised and a document cut in half never verifies.
// `karana-edge sign -key FILE DOC` prints the envelope; the key file is a
// PEM PKCS#8 ed25519 private key (`karana-edge sign -genkey FILE` writes one
// and prints the public key to put in [remote] public_key). Without a
// public_key the envelope is still accepted, unverified.
//
// # Merged document and positions
//
// The merged document is the overlay's own text first, then the local
// sections it does not replace, re-encoded. Validating it with the local
// file's loader gives errors whose lines inside the overlay are the
// overlay's own lines (OverlayLines tells where the overlay ends); errors in
// the local part keep their key and lose the line, which would otherwise
// point into text the operator never wrote.
package remote
