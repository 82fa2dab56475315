#!/bin/sh
# Install karana-edge on a box from a built binary (the .deb does the same
# with dpkg; use one or the other):
#
#   sudo scripts/install.sh dist/karana-edge-linux-armv6
#   sudo scripts/install.sh --uninstall           # keeps /var/lib and /etc/karana-edge
#   sudo scripts/install.sh --uninstall --purge   # removes them too (data, config, device key)
#
# It installs the binary (/usr/bin/karana-edge), the groups i2c, spi, gpio, dialout and
# karana, the karana system user, a udev rule giving those groups the bus
# devices (for distros without Pi OS's rules), the unit, and a config. The
# config is never overwritten: on a fresh box the binary's own `init` writes
# one for the detected board with the device identity (key + CSR); when the
# binary cannot run here (an ARM binary installed into an image on a PC) the
# example config is copied instead, its device id left to be derived.
# Re-running it is safe and changes nothing that is already right.
#
# DESTDIR=/path installs into that tree instead of /, e.g. a mounted SD card
# image or a test's temporary root: the user and groups are written into
# DESTDIR's etc/passwd, etc/group (and shadow files if present) directly,
# ownership uses DESTDIR's ids, and systemctl/udevadm are not called.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
root=${DESTDIR:-}
root=${root%/}
case $root in
"" | /*) ;;
*) root=$(pwd)/$root ;;
esac
user=karana
groups="i2c spi gpio dialout"

bindir=$root/usr/bin
confdir=$root/etc/karana-edge
datadir=$root/var/lib/karana-edge
unit=$root/etc/systemd/system/karana-edge.service
rule=$root/etc/udev/rules.d/99-karana-edge.rules

log() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

usage() {
	echo "usage: [DESTDIR=DIR] install.sh BINARY | --uninstall [--purge]" >&2
	exit 2
}

# --- accounts ---------------------------------------------------------------
# On the host: groupadd/useradd. Under DESTDIR: edit its files, picking
# system ids (100-999) free in that tree, highest first as groupadd does.

free_id() { # FILE: the highest id in 100..999 not used in FILE's 3rd field
	awk -F: '{ used[$3] = 1 } END { for (i = 999; i >= 100; i--) if (!(i in used)) { print i; exit } }' "$1"
}

has_entry() { # FILE NAME
	[ -f "$1" ] && grep -q "^$2:" "$1"
}

ensure_group() { # NAME
	if [ -z "$root" ]; then
		getent group "$1" >/dev/null || groupadd --system "$1"
		return
	fi
	mkdir -p "$root/etc"
	touch "$root/etc/group"
	has_entry "$root/etc/group" "$1" && return
	gid=$(free_id "$root/etc/group")
	echo "$1:x:$gid:" >>"$root/etc/group"
	if [ -f "$root/etc/gshadow" ] && ! has_entry "$root/etc/gshadow" "$1"; then
		echo "$1:!::" >>"$root/etc/gshadow"
	fi
	log "added group $1 ($gid) to $root/etc/group"
}

add_member() { # GROUP USER: under DESTDIR, add USER to GROUP's members (4th field)
	for f in "$root/etc/group" "$root/etc/gshadow"; do
		[ -f "$f" ] || continue
		awk -F: -v OFS=: -v g="$1" -v u="$2" '
			$1 == g { k = split($4, m, ","); found = 0
			          for (i = 1; i <= k; i++) if (m[i] == u) found = 1
			          if (!found) $4 = ($4 == "" ? u : $4 "," u) }
			{ print }' "$f" >"$f.tmp"
		cat "$f.tmp" >"$f" && rm -f "$f.tmp"
	done
}

ensure_user() {
	for g in $groups $user; do ensure_group "$g"; done
	if [ -z "$root" ]; then
		if ! id "$user" >/dev/null 2>&1; then
			useradd --system --gid "$user" --groups i2c,spi,gpio,dialout \
				--home-dir /var/lib/karana-edge --no-create-home \
				--shell /usr/sbin/nologin --comment "karana-edge daemon" "$user"
			log "created user $user"
		else
			usermod -a -G i2c,spi,gpio,dialout "$user"
		fi
		return
	fi
	touch "$root/etc/passwd"
	if ! has_entry "$root/etc/passwd" "$user"; then
		uid=$(free_id "$root/etc/passwd")
		gid=$(awk -F: -v g="$user" '$1 == g { print $3 }' "$root/etc/group")
		echo "$user:x:$uid:$gid:karana-edge daemon:/var/lib/karana-edge:/usr/sbin/nologin" >>"$root/etc/passwd"
		if [ -f "$root/etc/shadow" ] && ! has_entry "$root/etc/shadow" "$user"; then
			echo "$user:!*:::::::" >>"$root/etc/shadow"
		fi
		log "added user $user ($uid) to $root/etc/passwd"
	fi
	for g in $groups; do add_member "$g" "$user"; done
}

remove_user() {
	if [ -z "$root" ]; then
		# userdel also removes the karana group (USERGROUPS_ENAB); i2c, spi
		# and gpio stay: other software, and Pi OS itself, uses them.
		if id "$user" >/dev/null 2>&1; then userdel "$user" && log "removed user $user"; fi
		return
	fi
	for f in passwd shadow group gshadow; do
		p=$root/etc/$f
		[ -f "$p" ] || continue
		# Drop the user's (and its group's) line and its group memberships.
		awk -F: -v OFS=: -v u="$user" -v f="$f" '
			$1 == u { next }
			f == "group" || f == "gshadow" {
				k = split($4, m, ","); out = ""
				for (i = 1; i <= k; i++) if (m[i] != u) out = (out == "" ? m[i] : out "," m[i])
				$4 = out }
			{ print }' "$p" >"$p.tmp"
		cat "$p.tmp" >"$p" && rm -f "$p.tmp"
	done
	log "removed user and group $user from $root/etc"
}

# owner USER:GROUP prints what chown takes: numeric ids from DESTDIR's files,
# names on the host.
owner() {
	if [ -z "$root" ]; then
		echo "$1"
		return
	fi
	u=${1%%:*} g=${1#*:}
	uid=$(awk -F: -v n="$u" '$1 == n { print $3 }' "$root/etc/passwd")
	gid=$(awk -F: -v n="$g" '$1 == n { print $3 }' "$root/etc/group")
	[ "$u" = root ] && uid=0
	[ "$g" = root ] && gid=0
	echo "${uid:-0}:${gid:-0}"
}

# --- install ----------------------------------------------------------------

do_chown() { # [-R] USER:GROUP PATH: only root can give files away
	[ "$(id -u)" = 0 ] || return 0
	if [ "$1" = -R ]; then
		chown -R "$(owner "$2")" "$3"
	else
		chown "$(owner "$1")" "$2"
	fi
}

install_config() {
	cfg=$confdir/config.toml
	install -d -m 0750 "$confdir"
	do_chown root:$user "$confdir"
	chmod 0750 "$confdir"
	if [ -e "$cfg" ]; then
		log "kept $cfg (never overwritten)"
	elif "$bindir/karana-edge" version >/dev/null 2>&1 &&
		"$bindir/karana-edge" init -root "${root:-/}" -config /etc/karana-edge/config.toml; then
		log "wrote $cfg for this board with karana-edge init"
	else
		log "karana-edge cannot run here (or init failed): copying the example config; run \`karana-edge init\` on the box for the device identity"
		# The example names one site: leave the id to be derived per box.
		sed 's/^id = /# id = /' "$here/examples/config.toml" >"$cfg.tmp"
		chmod 0640 "$cfg.tmp"
		mv "$cfg.tmp" "$cfg"
		log "wrote $cfg from examples/config.toml"
	fi
	do_chown root:$user "$cfg"
	# init may have made the identity before the user existed.
	if [ -d "$confdir/identity" ]; then
		do_chown -R $user:$user "$confdir/identity"
	fi
}

do_install() {
	bin=$1
	[ -f "$bin" ] || die "$bin: no such file"
	install -d -m 0755 "$bindir"
	install -m 0755 "$bin" "$bindir/karana-edge"
	log "installed $bindir/karana-edge"
	ensure_user
	install -d -m 0755 "$(dirname "$rule")" "$(dirname "$unit")"
	install -m 0644 "$here/packaging/udev/99-karana-edge.rules" "$rule"
	install -m 0644 "$here/systemd/karana-edge.service" "$unit"
	log "installed $unit and $rule"
	install_config
	if [ -n "$root" ]; then
		log "DESTDIR set: not calling udevadm or systemctl"
		return
	fi
	if command -v udevadm >/dev/null 2>&1 && [ -S /run/udev/control ]; then
		udevadm control --reload-rules
		udevadm trigger --subsystem-match=i2c-dev --subsystem-match=spidev --subsystem-match=gpio || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		systemctl enable karana-edge.service
		log "enabled karana-edge; start it once the config is right: systemctl start karana-edge"
	else
		log "systemd is not running: enable the unit when it is (systemctl enable --now karana-edge)"
	fi
}

do_uninstall() {
	purge=$1
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl disable --now karana-edge.service 2>/dev/null || true
	fi
	rm -f "$bindir/karana-edge" "$unit" "$rule"
	log "removed the binary, the unit and the udev rule"
	if [ -z "$root" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload
	fi
	remove_user
	if [ "$purge" = yes ]; then
		rm -rf "$datadir" "$confdir"
		log "purged $datadir and $confdir (buffer, config, device key)"
	else
		log "kept $datadir and $confdir (--purge removes them)"
	fi
}

case "${1:-}" in
--uninstall)
	case "${2:-}" in
	"") do_uninstall no ;;
	--purge) do_uninstall yes ;;
	*) usage ;;
	esac
	;;
"" | -*) usage ;;
*)
	[ $# -eq 1 ] || usage
	do_install "$1"
	;;
esac
