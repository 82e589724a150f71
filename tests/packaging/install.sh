#!/usr/bin/env bash
# Installs the .deb on a clean Debian 12 the way a user does, and runs it there.
# mmdebstrap builds a minimal bookworm system (variant minbase) from the same Debian archive
# this machine's apt uses; inside it:
#   - `dpkg -i cgwd_*.deb` must stop on missing dependencies (a minimal system lacks them) and
#     `apt-get -f install` must then complete the install: this proves Depends names every
#     library the programs load, since nothing else was installed;
#   - `cgwctl --version`, `cgwd --version`, the unit file, the man pages, /etc/cgwd/cgwd.toml
#     (0600, a conffile);
#   - a user's first steps: `cgwctl import` of an AWS file into /etc/cgwd/cgwd.toml,
#     `cgwd --check-config`, then cgwd running (in a private network namespace, so the host is
#     not touched) and `cgwctl status` on its default socket /run/cgwd/cgwd.sock, then SIGTERM;
#   - `dpkg --purge cgwd` leaves none of the package's files.
# Needs root and Debian's archive (as scripts/setup does).
#   install.sh BUILD_DIR FIXTURES_DIR
set -euo pipefail
build=$1 fixtures=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/cgwd-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (mmdebstrap --mode=root, a chroot)"
for tool in cpack mmdebstrap; do
  command -v $tool >/dev/null || fail "$tool is missing (scripts/setup installs it)"
done

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/cgwd_*_amd64.deb)
cp "$deb" "$work/cgwd.deb"
install -m 600 "$fixtures/vgw-bgp.xml" "$work/vpn-0a1b2c3d4e5f60718.xml"

# The archive the host's apt uses (deb822 or one-line sources), else Debian's default mirror.
sources=http://deb.debian.org/debian
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
  [ -s "$f" ] && { sources=$f; break; }
done

start=$(date +%s)
if ! mmdebstrap --variant=minbase --mode=root --quiet \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --customize-hook="copy-in $work/cgwd.deb $work/vpn-0a1b2c3d4e5f60718.xml $here/install_inside.sh /root" \
    --customize-hook='chroot "$1" /bin/bash /root/install_inside.sh' \
    bookworm /dev/null "$sources" >"$work/log" 2>&1; then
  sed 's/^/  /' "$work/log" >&2
  fail "installing on a clean Debian 12 (log above)"
fi
grep '^ok:' "$work/log"
echo "ok: clean Debian 12 made, package installed, run and purged in $(( $(date +%s) - start )) s"
