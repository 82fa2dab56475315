// Package provision gets a new box ready for its first run: the device's
// identity (a private key and a certificate signing request for mutual-TLS
// provisioning) and an annotated config for the detected board. It is what
// `karana-edge init` does; the CLI only parses flags and prints.
//
// Facts it relies on:
//   - The private key is created on the box and never leaves it: only the
//     CSR and the public key are meant to be copied off. It is an ECDSA
//     P-256 key in PKCS#8 PEM, which Go's crypto/tls, OpenSSL and Mosquitto
//     all read, and small and fast enough for an ARM1176.
//   - Identity is idempotent: an existing key is reused as it is (never
//     regenerated, never rewritten), so re-running init never invalidates a
//     certificate the broker's CA already signed. The CSR and the public
//     key are derived data and are rewritten only when they no longer match
//     the key or the device id.
//   - An existing config is never overwritten, not even in a race with
//     another writer: new files are written to a temporary file, synced and
//     then hard-linked into place, which fails if the name exists. A power
//     cut leaves either no file or the whole file.
//   - The daemon runs as the "karana" system user (systemd/karana-edge.service)
//     while init runs as root: when that user exists in the target root's
//     /etc/passwd, the identity is chowned to it and the config to
//     root:karana, so the daemon can read its key for mutual TLS. Account
//     names are looked up in the target root's files, not through NSS, so
//     preparing a mounted SD card image (-root) gets that image's ids.
//   - The config text is the shipped example (examples/config.toml,
//     embedded by package examples) with the device id set, identity hints in [mqtt] and a
//     sensor section chosen for the board. No time is written into it: a
//     box without an RTC has a wrong clock at first boot.
package provision
