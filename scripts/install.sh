#!/bin/sh
# Install karana-edge on a box from a built binary: the system user, the
# unit, the config directory. Re-running it is safe; it never overwrites an
# existing config.
#   sudo scripts/install.sh dist/karana-edge-linux-armv6
set -eu
bin=${1:?usage: install.sh PATH-TO-BINARY}
here=$(cd "$(dirname "$0")/.." && pwd)

install -m 0755 "$bin" /usr/bin/karana-edge
for g in i2c spi gpio; do
  getent group "$g" >/dev/null || groupadd --system "$g"
done
if ! id karana >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/karana-edge --no-create-home \
    --shell /usr/sbin/nologin --groups i2c,spi,gpio karana
fi
install -d -m 0750 -o root -g karana /etc/karana-edge
if [ ! -e /etc/karana-edge/config.toml ]; then
  install -m 0640 -o root -g karana "$here/examples/config.toml" /etc/karana-edge/config.toml
  echo "wrote /etc/karana-edge/config.toml: edit [device], [mqtt] and the sensors, then: karana-edge check"
fi
install -m 0644 "$here/systemd/karana-edge.service" /etc/systemd/system/karana-edge.service
systemctl daemon-reload
echo "enable with: systemctl enable --now karana-edge"
