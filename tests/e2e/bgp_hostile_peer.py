#!/usr/bin/env python3
# A hostile, flapping BGP peer for tests/e2e/hostile.sh (runs in the AWS endpoint's namespace,
# from the configured peer's inside address, while that endpoint's BIRD session is disabled).
#
# About once a second for SECONDS it opens a TCP connection to cgwd's BGP port. cgwd either
# closes it unanswered (its idle hold runs: "refused") or sends its OPEN ("accepted"); each
# accepted connection plays the next case, then the cycle goes on with plain flaps:
#   bad_version     OPEN with version 3             -> NOTIFICATION 2/1 (RFC 4271 section 6.2)
#   bad_hold        OPEN with hold time 1           -> NOTIFICATION 2/6 (RFC 4271 section 6.2)
#   update_reset    Established, then an UPDATE whose Total Path Attribute Length runs past the
#                   message                         -> NOTIFICATION 3/1 (RFC 7606 section 3(b))
#   update_withdraw Established, then an UPDATE with a 3-octet MULTI_EXIT_DISC: treat-as-
#                   withdraw (RFC 7606 section 7.4), no NOTIFICATION, the session stays up and
#                   the route is not taken; then a NOTIFICATION with the bogus code 99/7: cgwd
#                   closes without answering it (RFC 4271 section 6.4)
#   flap            Established, then the TCP connection is closed
# Keeps going past SECONDS (up to MAX_SECONDS) until every case has been played once.
# Prints one JSON document: the counts, each case's outcome and cgwd's view of the session at
# the end (status --json).
#   bgp_hostile_peer.py SECONDS MAX_SECONDS PEER CGW CGWCTL SOCKET NS_CGW TUNNEL BEFORE AFTER
# BEFORE (sh, e.g. birdc ... disable) runs once this interpreter is up: the window starts then;
# AFTER (e.g. birdc ... enable) right after the window and cgwd's status.
import json
import socket
import struct
import subprocess
import sys
import time

seconds, max_seconds = float(sys.argv[1]), float(sys.argv[2])
peer, cgw, cgwctl, sock_path, ns_cgw, tunnel = sys.argv[3:9]
tunnel = int(tunnel)
before, after = sys.argv[9:11]
PEER_AS = 64512


def msg(kind, body):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def open_msg(version=4, hold=30):
    # Capabilities: multiprotocol IPv4 unicast (RFC 4760), 4-octet AS (RFC 6793).
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", PEER_AS)
    opt = bytes([2, len(caps)]) + caps
    body = struct.pack("!BHH4sB", version, PEER_AS, hold, socket.inet_aton(peer), len(opt))
    return msg(1, body + opt)


KEEPALIVE = msg(4, b"")
# ORIGIN IGP, AS_PATH (AS_SEQUENCE of 64512, 4-octet), NEXT_HOP the peer.
BASE_ATTRS = (bytes.fromhex("40010100") + bytes.fromhex("4002060201") + struct.pack("!I", PEER_AS)
              + bytes.fromhex("400304") + socket.inet_aton(peer))
NLRI = bytes([16, 10, 99])  # 10.99.0.0/16


def update(attrs, nlri, attr_len=None):
    n = len(attrs) if attr_len is None else attr_len
    return msg(2, struct.pack("!HH", 0, n) + attrs + nlri)


class Conn:
    def __init__(self):
        self.s = socket.socket()
        self.s.bind((peer, 0))
        self.s.settimeout(3)
        self.s.connect((cgw, 179))
        self.buf = b""
        self.closed = False
        self.notifications = []

    def read_msgs(self, timeout, first=False):
        """Messages cgwd sent within `timeout` (stops early at EOF; with `first`, at the first
        message)."""
        out, end = [], time.time() + timeout
        while not self.closed and not (first and out):
            while len(self.buf) >= 19:
                n = struct.unpack_from("!H", self.buf, 16)[0]
                if len(self.buf) < n:
                    break
                kind, body = self.buf[18], self.buf[19:n]
                self.buf = self.buf[n:]
                if kind == 3:
                    self.notifications.append("%d/%d" % (body[0], body[1]))
                out.append(kind)
            left = end - time.time()
            if left <= 0:
                break
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
            self.buf += data
        return out

    def wait_for(self, kind, timeout):
        end = time.time() + timeout
        while time.time() < end and not self.closed:
            if kind in self.read_msgs(min(0.2, end - time.time())):
                return True
        return False

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            self.closed = True

    def establish(self):
        self.send(open_msg() + KEEPALIVE)
        return self.wait_for(4, 3)  # cgwd's KEEPALIVE: OpenConfirm, ours then makes it Established

    def close(self):
        self.s.close()


def cgwd_bgp():
    out = subprocess.run(["ip", "netns", "exec", ns_cgw, cgwctl, "-s", sock_path, "status",
                          "--json"], capture_output=True, text=True, timeout=30).stdout
    for t in json.loads(out)["connections"][0]["tunnels"]:
        if t["number"] == tunnel:
            return t.get("bgp", {})
    return {}


def play(case, c):
    r = {"case": case}
    if case == "bad_version":
        c.send(open_msg(version=3))
    elif case == "bad_hold":
        c.send(open_msg(hold=1))
    else:
        r["established"] = c.establish()
        if case == "update_reset":
            # Total Path Attribute Length 32, but only 4 octets follow.
            c.send(update(bytes.fromhex("40010100"), b"", attr_len=32))
        elif case == "update_withdraw":
            c.send(update(BASE_ATTRS + bytes.fromhex("800403000064"), NLRI))
            c.read_msgs(1.5)
            b = cgwd_bgp()
            r["after_update"] = {"state": b.get("state"),
                                 "prefixes_received": b.get("prefixes_received"),
                                 "notifications": list(c.notifications),
                                 "open": not c.closed}
            c.send(msg(3, bytes([99, 7])))  # NOTIFICATION with a code RFC 4271 does not define
        elif case == "flap":
            c.close()
            r["notifications"] = []
            return r
    c.read_msgs(3)
    r["notifications"] = list(c.notifications)
    r["closed_by_cgwd"] = c.closed
    c.close()
    return r


cases = ["bad_version", "bad_hold", "update_reset", "update_withdraw"]
attempts = accepted = refused = silent = errors = 0
results = []
subprocess.run(["sh", "-c", before], check=True, stdout=subprocess.DEVNULL, timeout=30)
start = time.time()
while True:
    elapsed = time.time() - start
    if elapsed >= max_seconds or (elapsed >= seconds and len(results) >= len(cases)):
        break
    t_next = time.time() + 1.0  # about once a second
    attempts += 1
    try:
        c = Conn()
    except OSError:
        errors += 1  # refused or timed out: nobody listening
    else:
        first = c.read_msgs(2, first=True)
        if first[:1] == [1]:  # cgwd's OPEN: accepted
            accepted += 1
            case = cases[len(results)] if len(results) < len(cases) else "flap"
            r = play(case, c)
            r["at_s"] = round(elapsed, 1)
            results.append(r)
        else:
            if c.closed and not first:
                refused += 1  # closed unanswered: cgwd's idle hold
            else:
                silent += 1
            c.close()
    time.sleep(max(0.0, t_next - time.time()))
seconds_used = round(time.time() - start, 1)
status = cgwd_bgp()
subprocess.run(["sh", "-c", after], check=True, stdout=subprocess.DEVNULL, timeout=30)
print(json.dumps({"status": status, "attempts": attempts, "accepted": accepted, "refused": refused,
                  "other": silent, "connect_errors": errors, "seconds": seconds_used,
                  "cases": results}))
