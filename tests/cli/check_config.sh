#!/usr/bin/env bash
# End-to-end check of the two configuration commands a user runs first:
#   cgwctl import AWS-FILE > cgwd.toml   and   cgwd --check-config cgwd.toml
# for each AWS format, plus the failure paths (exit 1, error naming file:line, nothing written).
set -euo pipefail
bin=$1 fixtures=$2
work=$(mktemp -d /tmp/cgwd-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for f in vgw-bgp.xml vgw-bgp.json vgw-bgp-new.txt vgw-bgp-old.txt vgw-static.txt two-connections.json; do
  cp "$fixtures/$f" "$work/$f"; chmod 600 "$work/$f"
  "$bin/cgwctl" import "$work/$f" --name lab >"$work/$f.toml" 2>"$work/err" || fail "import $f: $(cat "$work/err")"
  "$bin/cgwd" --check-config "$work/$f.toml" >"$work/out" 2>"$work/err" || fail "check $f: $(cat "$work/err")"
  grep -q "configuration is valid" "$work/out" || fail "$f: no 'valid' line"
  grep -q "connection vpn-0a1b2c3d4e5f60718" "$work/out" || fail "$f: connection id missing"
  grep -q "outside   us 198.51.100.10  aws 203.0.113.11" "$work/out" || fail "$f: tunnel 1 outside addresses missing"
  grep -q "psk <redacted>" "$work/out" || fail "$f: psk not shown redacted"
  if grep -qE "Xk3_9vTq|Rr8w_Qz1" "$work/out" "$work/err"; then fail "$f: a PSK was printed"; fi
  echo "ok: $f"
done

# A bad AWS file: import exits 1, writes nothing to stdout, names file:line.
cp "$fixtures/bad-psk.txt" "$work/bad.txt"; chmod 600 "$work/bad.txt"
if "$bin/cgwctl" import "$work/bad.txt" >"$work/out" 2>"$work/err"; then fail "import of a bad file succeeded"; fi
[ ! -s "$work/out" ] || fail "import of a bad file wrote to stdout"
grep -qE "^cgwctl: $work/bad.txt:[0-9]+: IPsec Tunnel #2: Pre-Shared Key: pre-shared key must not start with '0'" "$work/err" \
  || fail "import error message: $(cat "$work/err")"
echo "ok: bad AWS file refused by import"

# A bad TOML: check-config exits 1 naming line:column.
printf '[daemon]\nloglevel = "info"\n' >"$work/bad.toml"
if "$bin/cgwd" --check-config "$work/bad.toml" >"$work/out" 2>"$work/err"; then fail "bad TOML accepted"; fi
grep -qx "cgwd: $work/bad.toml:2:1: \[daemon\]: unknown key 'loglevel'" "$work/err" || fail "toml error: $(cat "$work/err")"
echo "ok: bad TOML refused"

# A world-readable AWS file is refused by cgwd, with the fix in the message.
chmod 644 "$work/vgw-bgp.xml"
if "$bin/cgwd" --check-config "$work/vgw-bgp.xml.toml" >/dev/null 2>"$work/err"; then fail "0644 AWS file accepted"; fi
grep -q "chmod 600" "$work/err" || fail "permission message: $(cat "$work/err")"
echo "ok: world-readable AWS file refused"
"$bin/cgwd" --version | grep -q '^cgwd [0-9]' || fail "cgwd --version"
"$bin/cgwctl" --version | grep -q '^cgwctl [0-9]' || fail "cgwctl --version"
# docs/configuration.md carries the key reference generated from the same table cgwd validates with.
docs=$fixtures/../../../docs/configuration.md
diff <("$bin/cgwd" --config-reference) <(sed -n '/^## Keys$/,$p' "$docs" | tail -n +2) >/dev/null \
  || fail "docs/configuration.md is out of date: regenerate its Keys section with cgwd --config-reference"
echo "ok: docs/configuration.md matches cgwd --config-reference"
echo "cli checks passed"
