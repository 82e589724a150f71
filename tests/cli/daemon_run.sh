#!/usr/bin/env bash
# Runs cgwd as systemd would (Type=notify): READY=1 and STATUS= arrive on NOTIFY_SOCKET once the
# control socket (mode 0660) is bound; cgwctl status/check/log-level/reload work against it;
# another user cannot reach the control socket, and malformed, unknown and oversize requests are
# answered and survived; SIGHUP with a broken file keeps the running configuration; SIGTERM exits 0 promptly and
# removes the socket; no pre-shared key appears in the daemon's output.
set -euo pipefail
bin=$1 fixtures=$2
work=$(mktemp -d /tmp/cgwd-run-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/stderr" ] && sed 's/^/  cgwd: /' "$work/stderr" >&2; exit 1; }
command -v python3 >/dev/null || fail "python3 is needed for the NOTIFY_SOCKET listener (scripts/setup installs it)"

install -m 600 "$fixtures/vgw-bgp.xml" "$work/vgw-bgp.xml"
cat >"$work/cgwd.toml" <<EOT
[daemon]
control_socket = "$work/run/cgwd.sock"
metrics_listen = "127.0.0.1:9469"
[[vpn]]
name = "lab"
aws_file = "vgw-bgp.xml"
EOT
# A datagram socket standing in for systemd's notify socket; it appends what it receives.
python3 - "$work/notify.sock" "$work/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True: log.write(s.recv(4096).decode() + "\n")
PY
npid=$!
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done

# cgwd now brings tunnels up (TUN interfaces, UDP 500/4500): give it a network namespace of
# its own so nothing touches the host's interfaces or ports.
[ "$(id -u)" -eq 0 ] || fail "needs root (cgwd runs in a private network namespace)"
NOTIFY_SOCKET="$work/notify.sock" unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
    "$bin/cgwd" -c "$work/cgwd.toml" 2>"$work/stderr" &
pid=$!
for _ in $(seq 100); do grep -q "READY=1" "$work/notify.log" 2>/dev/null && break; sleep 0.05; done
grep -q "READY=1" "$work/notify.log" || fail "no READY=1 on NOTIFY_SOCKET"
grep -q "STATUS=0/2 tunnels up" "$work/notify.log" || fail "no STATUS= line: $(cat "$work/notify.log")"
[ "$(stat -c %a "$work/run/cgwd.sock")" = 660 ] || fail "control socket mode is $(stat -c %a "$work/run/cgwd.sock")"
echo "ok: READY=1 and STATUS after the control socket (0660) is bound"

ctl() { "$bin/cgwctl" -s "$work/run/cgwd.sock" "$@"; }
ctl status >"$work/status" || fail "cgwctl status"
grep -q "^cgwd: 0/2 tunnels up, dataplane userspace" "$work/status" || fail "status: $(cat "$work/status")"
grep -q "tunnel 2  connecting  198.51.100.10 -> 203.0.113.12" "$work/status" || fail "status tunnel 2"
grep -q "IKE_SA_INIT sent" "$work/status" || fail "status: no IKE progress shown"
ctl status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tunnels_total"] == 2' || fail "status --json"
# [daemon] userspace_offloads defaults to on: the userspace dataplane's socket has UDP GRO.
ctl status --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["dataplane_counters"]; assert c["udp_gro"] is True and c["offload_errors"] == 0, c' \
    || fail "status --json: offloads not in force by default"
set +e; ctl check >"$work/check"; code=$?; set -e
[ $code = 2 ] && grep -qx "CGWD CRITICAL - 0/2 tunnels up" "$work/check" || fail "check: exit $code, $(cat "$work/check")"
ctl log-level bgp debug | grep -qx "bgp logs at debug" || fail "log-level"
if ctl log-level bgp loud 2>/dev/null; then fail "bad log level accepted"; fi
echo "ok: cgwctl status, status --json, check (exit 2), log-level"

# Capabilities after start-up: CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13).
for set in CapEff CapPrm; do
    v=$(sed -n "s/^$set:\t//p" /proc/$pid/status)
    [ "$v" = 0000000000003400 ] || fail "$set is $v, want 0000000000003400"
done
echo "ok: only CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE kept"
# The Prometheus endpoint (in cgwd's network namespace) and the event log.
nsenter -t "$pid" -n python3 -c '
import urllib.request
body = urllib.request.urlopen("http://127.0.0.1:9469/metrics", timeout=5).read().decode()
assert "cgwd_tunnel_up{connection=\"vpn-0a1b2c3d4e5f60718\",tunnel=\"1\"} 0" in body, body
assert "cgwd_events_total" in body, body' || fail "metrics endpoint"
ctl tunnels | grep -q "^vpn-0a1b2c3d4e5f60718/1  connecting  lab-t1" || fail "tunnels: $(ctl tunnels)"
ctl events --no-follow | grep -q "daemon  started, dataplane userspace" || fail "events: $(ctl events --no-follow)"
echo "ok: /metrics, cgwctl tunnels, cgwctl events"

# Control socket abuse (issue 8): another user is kept out by the socket's mode; malformed and
# unknown requests get an error answer; an oversize frame (length over 64 KiB) and a frame of
# length 0 get one error answer and the connection is closed; cgwd keeps serving afterwards.
chmod 755 "$work" "$work/run"  # other users may reach the socket; only its own mode stops them
if setpriv --reuid=65534 --regid=65534 --clear-groups "$bin/cgwctl" -s "$work/run/cgwd.sock" status \
     >"$work/nobody.out" 2>&1; then
    fail "user nobody could use the control socket"
fi
grep -qi "permission denied" "$work/nobody.out" || fail "nobody: $(cat "$work/nobody.out")"
python3 - "$work/run/cgwd.sock" <<'PY' || fail "control socket abuse"
import json, socket, struct, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(path); return s
def recv_frame(s):
    head = b""
    while len(head) < 4:
        c = s.recv(4 - len(head))
        if not c: return None
        head += c
    n = struct.unpack("!I", head)[0]; body = b""
    while len(body) < n:
        c = s.recv(n - len(body)); assert c, "short answer"; body += c
    return json.loads(body)
def ask(body):
    s = conn(); s.sendall(struct.pack("!I", len(body)) + body); r = recv_frame(s); s.close(); return r
for body, code in ((b"{not json", 1), (b"[1,2]", 1), (b'{"command": 5}', 1),
                   (b'{"command": "shutdown-everything"}', 2),
                   (b'{"command": "status", "arguments": {}, "extra": 1}', 1)):
    r = ask(body)
    assert r and r["result"] == code, (body, r)
for head, text in ((struct.pack("!I", 64 * 1024 + 1), "request larger than 64 KiB"),
                   (struct.pack("!I", 0xFFFFFFFF), "request larger than 64 KiB"),
                   (struct.pack("!I", 0), "empty request")):
    s = conn(); s.sendall(head + b"x" * 64)
    r = recv_frame(s)
    assert r and r["result"] == 1 and r["text"] == text, (head, r)
    assert recv_frame(s) is None, head  # then closed: nothing of the body was buffered
    s.close()
assert ask(b'{"command": "status"}')["result"] == 0
print("control socket: 5 malformed/unknown requests answered 1/2, 3 bad frames answered once and closed, still serving")
PY
echo "ok: user nobody refused (permission denied); malformed, unknown, oversize requests handled"

# SIGHUP with a broken file: refused, still running, same state.
cp "$work/cgwd.toml" "$work/good.toml"
printf '[daemon]\nnope = 1\n' >"$work/cgwd.toml"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "reload refused" "$work/stderr" && break; sleep 0.05; done
grep -q "<3>config: reload refused, running configuration kept: $work/cgwd.toml:2:1" "$work/stderr" || fail "no refusal logged"
kill -0 "$pid" || fail "cgwd died on a bad reload"
ctl status | grep -q "0/2 tunnels up" || fail "state changed after a refused reload"
cp "$work/good.toml" "$work/cgwd.toml"
ctl reload | grep -qx "reloaded: 1 unchanged, 0 changed, 0 added, 0 removed" || fail "reload"
ctl events --no-follow | grep -q "daemon  reload refused: $work/cgwd.toml:2:1" || fail "refused reload not in events"
echo "ok: a bad reload changes nothing; a good one reports what changed"

start=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"; code=$?; pid=""
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $code = 0 ] || fail "exit status $code after SIGTERM"
[ $ms -lt 3000 ] || fail "took $ms ms to stop"
[ ! -e "$work/run/cgwd.sock" ] || fail "control socket left behind"
grep -q "STOPPING=1" "$work/notify.log" || fail "no STOPPING=1"
if grep -qE "Xk3_9vTq|Rr8w_Qz1" "$work/stderr" "$work/notify.log"; then fail "a PSK was logged"; fi
echo "ok: SIGTERM -> exit 0 in $ms ms, socket removed, no PSK in the output"
