#!/usr/bin/env bash
# Builds the .deb from the build tree and checks it: the expected files with the right modes,
# the conffile, Depends from dpkg-shlibdeps, lintian clean (one explained override), the unit
# file passes `systemd-analyze verify`, and the packaged cgwctl/cgwd run.
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/cgwd-pkg-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg-deb lintian systemd-analyze; do
  command -v $tool >/dev/null || fail "$tool is missing (scripts/setup installs it)"
done

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/out/cgwd_*_amd64.deb)
dpkg-deb -c "$deb" | awk '{print $1, $6}' >"$work/list"
for want in "-rwxr-xr-x ./usr/sbin/cgwd" "-rwxr-xr-x ./usr/sbin/cgwctl" \
            "-rw-r--r-- ./usr/lib/systemd/system/cgwd.service" "-rw------- ./etc/cgwd/cgwd.toml" \
            "-rw-r--r-- ./usr/share/man/man8/cgwd.8.gz" "-rw-r--r-- ./usr/share/man/man8/cgwctl.8.gz" \
            "-rw-r--r-- ./usr/share/man/man5/cgwd.toml.5.gz" "-rw-r--r-- ./usr/share/doc/cgwd/copyright" \
            "-rw-r--r-- ./usr/share/doc/cgwd/changelog.gz"; do
  grep -qxF -- "$want" "$work/list" || fail "package lacks '$want'"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/cgwd/cgwd.toml || fail "cgwd.toml is not a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libsystemd0 iproute2; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
echo "ok: $(basename "$deb") holds the binaries, unit, man pages and a 0600 conffile; Depends: $depends"

lintian --fail-on error,warning "$deb" >"$work/lintian" 2>&1 || { cat "$work/lintian"; fail "lintian findings"; }
echo "ok: lintian clean"

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/sbin/cgwctl" --version | grep -q "^cgwctl " || fail "packaged cgwctl --version"
"$work/root/usr/sbin/cgwd" --version | grep -q "^cgwd " || fail "packaged cgwd --version"
mkdir "$work/unit"
sed "s|/usr/sbin/cgwd|$work/root/usr/sbin/cgwd|g" "$work/root/usr/lib/systemd/system/cgwd.service" >"$work/unit/cgwd.service"
MANPATH="$work/root/usr/share/man" systemd-analyze verify "$work/unit/cgwd.service" || fail "systemd-analyze verify"
echo "ok: systemd-analyze verify passes; the packaged programs run"
