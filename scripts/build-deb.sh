#!/bin/sh
# Build a .deb of karana-edge with dpkg-deb (no debhelper, no new Go
# dependency):
#
#   VERSION=v1.2.0 scripts/build-deb.sh ARCH BINARY [OUTDIR]
#   (make deb does armhf, arm64 and amd64 from dist/)
#
# ARCH is a Debian architecture (armhf, arm64, amd64); BINARY the matching
# static build. armhf gets the GOARM=6 binary: Raspberry Pi OS's armhf is
# ARMv6 (Pi Zero/1), and it runs on Debian's ARMv7 armhf too.
#
# The package holds /usr/bin/karana-edge, the unit, the udev rule, the
# README, and /etc/karana-edge/config.toml as a conffile: the example with
# its device id commented out, so each box derives its own. Maintainer
# scripts (packaging/deb/) create the user and groups and enable the unit
# without starting it on first install (the config wants its broker and
# sensors first); upgrades restart a running daemon; purge removes the
# buffer, the config and the device identity.
set -eu

arch=${1:?usage: build-deb.sh ARCH BINARY [OUTDIR]}
bin=${2:?usage: build-deb.sh ARCH BINARY [OUTDIR]}
out=${3:-dist}
here=$(cd "$(dirname "$0")/.." && pwd)

case $arch in
armhf | arm64 | amd64) ;;
*) echo "build-deb.sh: unsupported architecture $arch (armhf, arm64, amd64)" >&2; exit 2 ;;
esac
[ -f "$bin" ] || { echo "build-deb.sh: $bin: no such file" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }

# A Debian version must start with a digit and has no '-' in a native
# package: v1.2.0 -> 1.2.0, v1.2.0-3-gabc -> 1.2.0+3+gabc, 1c317af-dirty ->
# 0.0.0~1c317af+dirty (sorts before any release).
version=${VERSION:-$(git -C "$here" describe --tags --always --dirty 2>/dev/null || echo dev)}
version=${version#v}
case $version in
[0-9]*.[0-9]*) ;; # a release tag
*) version=0.0.0~$version ;; # a bare commit, even one starting with a digit
esac
version=$(printf %s "$version" | tr -- '-_' '++' | tr -cd 'A-Za-z0-9.+~')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
chmod 0755 "$stage" # the archive's "./": mktemp's 0700 must not reach /

install -D -m 0755 "$bin" "$stage/usr/bin/karana-edge"
install -D -m 0644 "$here/systemd/karana-edge.service" "$stage/usr/lib/systemd/system/karana-edge.service"
install -D -m 0644 "$here/packaging/udev/99-karana-edge.rules" "$stage/usr/lib/udev/rules.d/99-karana-edge.rules"
install -D -m 0644 "$here/README.md" "$stage/usr/share/doc/karana-edge/README.md"
mkdir -p "$stage/etc/karana-edge"
# 0644 in the archive; postinst makes it root:karana 0640 once the group exists.
sed 's/^id = /# id = /' "$here/examples/config.toml" >"$stage/etc/karana-edge/config.toml"
chmod 0644 "$stage/etc/karana-edge/config.toml"

mkdir -p "$stage/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "$here/packaging/deb/$s" "$stage/DEBIAN/$s"
done
echo /etc/karana-edge/config.toml >"$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: karana-edge
Version: $version
Architecture: $arch
Maintainer: Karana Energy <ops@karana.energy>
Section: misc
Priority: optional
Installed-Size: $size
Depends: passwd
Homepage: https://github.com/karana-energy/karana-edge
Description: sensor sampling, buffering and MQTT uplink for monitoring boxes
 karana-edge samples I2C, SPI, GPIO and 1-Wire sensors on a Raspberry-Pi-class
 board, keeps every reading in a crash-safe ring buffer on the SD card and
 streams batches over MQTT whenever the link is up. Run 'karana-edge init'
 for the device identity, edit /etc/karana-edge/config.toml, then
 'systemctl start karana-edge'.
EOF

mkdir -p "$out"
deb=$out/karana-edge_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
