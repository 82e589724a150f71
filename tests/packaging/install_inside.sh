#!/bin/bash
# Runs inside the clean Debian 12 chroot made by install.sh, as root, with /root holding
# cgwd.deb and an AWS configuration file (0600).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
cd /root

# dpkg -i alone: a minimal system lacks the libraries, so dpkg must refuse to configure the
# package and name what is missing; apt-get -f install brings exactly those in.
if dpkg -i cgwd.deb >dpkg.log 2>&1; then
  fail "dpkg -i succeeded on a minimal system: does Depends list the libraries? $(cat dpkg.log)"
fi
grep -q "dependency problems" dpkg.log || fail "dpkg -i failed for another reason: $(cat dpkg.log)"
missing=$(sed -n 's/^ cgwd depends on \([^;]*\);.*/\1/p' dpkg.log | tr '\n' ' ')
echo "ok: dpkg -i on a minimal system stops on missing dependencies: $missing"
DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq >apt.log 2>&1 || fail "apt-get -f install: $(tail -20 apt.log)"
[ "$(dpkg-query -W -f='${Status}' cgwd)" = "install ok installed" ] || fail "cgwd not installed: $(dpkg-query -W -f='${Status}' cgwd)"
echo "ok: apt-get -f install completed it: $(dpkg-query -W -f='${Package} ${Version} ${Status}' cgwd)"

cgwctl --version | grep -q "^cgwctl " || fail "cgwctl --version: $(cgwctl --version 2>&1)"
cgwd --version | grep -q "^cgwd " || fail "cgwd --version: $(cgwd --version 2>&1)"
echo "ok: $(cgwctl --version | head -1); $(cgwd --version | head -1)"
[ -f /usr/lib/systemd/system/cgwd.service ] || fail "no unit file"
for m in man8/cgwd.8.gz man8/cgwctl.8.gz man5/cgwd.toml.5.gz; do
  [ -f /usr/share/man/$m ] || fail "no man page $m"
done
[ "$(stat -c %a /etc/cgwd/cgwd.toml)" = 600 ] || fail "/etc/cgwd/cgwd.toml mode $(stat -c %a /etc/cgwd/cgwd.toml)"
grep -qx /etc/cgwd/cgwd.toml /var/lib/dpkg/info/cgwd.conffiles || fail "cgwd.toml is not a conffile"
echo "ok: unit file, three man pages, /etc/cgwd/cgwd.toml 0600 and a conffile"

# A user's first steps, as README says: import the AWS file, check, run, look.
install -m 600 vpn-0a1b2c3d4e5f60718.xml /etc/cgwd/
cgwctl import /etc/cgwd/vpn-0a1b2c3d4e5f60718.xml --name lab >cgwd.toml.new || fail "cgwctl import"
install -m 600 cgwd.toml.new /etc/cgwd/cgwd.toml
cgwd --check-config /etc/cgwd/cgwd.toml >check.out 2>&1 || fail "cgwd --check-config: $(cat check.out)"
echo "ok: cgwctl import + cgwd --check-config pass on the installed system"

# cgwd live, in its own network namespace (lo only: the tunnels keep trying), on the default
# control socket; then cgwctl status the way an operator runs it.
[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
mkdir -p /run/cgwd
unshare -n sh -c 'ip link set lo up && exec cgwd -c /etc/cgwd/cgwd.toml' 2>cgwd.log &
pid=$!
for _ in $(seq 100); do [ -S /run/cgwd/cgwd.sock ] && break; sleep 0.1; done
[ -S /run/cgwd/cgwd.sock ] || { kill -9 $pid 2>/dev/null; fail "no control socket: $(cat cgwd.log)"; }
sleep 0.5
cgwctl status >status.out || { kill -9 $pid; fail "cgwctl status: $(cat status.out)"; }
grep -q "^cgwd: 0/2 tunnels up" status.out || { kill -9 $pid; fail "status: $(cat status.out)"; }
grep -q "vpn-0a1b2c3d4e5f60718" status.out || { kill -9 $pid; fail "status lacks the connection"; }
sed 's/^/ok: status | /' status.out
kill -TERM $pid
wait $pid || fail "cgwd exited $? on SIGTERM: $(tail -5 cgwd.log)"
[ ! -e /run/cgwd/cgwd.sock ] || fail "control socket left behind"
echo "ok: cgwd ran from the package, answered cgwctl status, exited 0 on SIGTERM"

dpkg --purge cgwd >purge.log 2>&1 || fail "dpkg --purge: $(cat purge.log)"
for f in /usr/sbin/cgwd /usr/sbin/cgwctl /usr/lib/systemd/system/cgwd.service /etc/cgwd/cgwd.toml; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
echo "ok: dpkg --purge removed the programs, the unit and the conffile"
