"""Ray on this machine's loopback alone, for the Ray tests, and the check that it stays there.

Every Ray node and driver of a test uses LOOPBACK as its node address. It is not 127.0.0.1: Ray
replaces "127.0.0.1" and "localhost", wherever it is given one (`ray start --node-ip-address`,
`ray.init(address=...)`, `ray.init(_node_ip_address=...)`), with the address this machine would
use to reach the internet (ray/_private/services.py, resolve_ip_for_localhost), so nodes started
with 127.0.0.1 register, listen and connect on the interface address. Any other address of
127.0.0.0/8 is kept as given, and Linux delivers all of 127.0.0.0/8 over the loopback device.

Ray's C++ servers (GCS, raylet) listen on the wildcard address whatever the node address is;
that opens no connection, so the check below admits a wildcard listener and nothing else that is
not loopback.

Ray also reaches off the machine on its own: the head's usage-stats module, loaded even with usage
stats disabled, asks the cloud metadata address (169.254.169.254, metadata.google.internal) which
cloud it runs on and posts a "disabled" report to usage-stats.ray.io (ray/_common/usage/
usage_lib.py). Both go through `requests`, which honours the proxy variables, so NO_EGRESS sends
them to a closed loopback port: they fail at once without a packet leaving the machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

LOOPBACK = "127.0.0.2"
_NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there
NO_EGRESS = {"HTTP_PROXY": _NOWHERE, "HTTPS_PROXY": _NOWHERE, "http_proxy": _NOWHERE, "https_proxy": _NOWHERE,
             "NO_PROXY": f"127.0.0.1,{LOOPBACK},localhost", "no_proxy": f"127.0.0.1,{LOOPBACK},localhost",
             "RAY_USAGE_STATS_ENABLED": "0"}
_LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket


def descendants(*roots: int) -> set[int]:
    """The processes below `roots` (and the roots themselves, where they still run)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (comm) state"
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [r for r in roots if Path(f"/proc/{r}").exists()]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp{,6} (32-bit words in host order, little-endian here)."""
    raw = b"".join(bytes.fromhex(hex_addr[i:i + 8])[::-1] for i in range(0, len(hex_addr), 8))
    ip = ipaddress.ip_address(socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw))
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def tcp_sockets(pids: set[int]) -> list[tuple[str, str, str]]:
    """(local, remote, state) of every TCP socket the processes `pids` hold."""
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                (local, lport), (remote, rport) = (f.split(":") for f in fields[1:3])
                out.append((f"{_address(local)}:{int(lport, 16)}", f"{_address(remote)}:{int(rport, 16)}", fields[3]))
    return out


def off_loopback(sockets: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The sockets that reach past loopback: a connection with an end that is not loopback, or a
    listener on a particular address that is not loopback (a wildcard listener is admitted)."""
    def ip(endpoint: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(endpoint.rsplit(":", 1)[0])

    bad = []
    for local, remote, state in sockets:
        if state == _LISTEN:
            if not (ip(local).is_loopback or ip(local).is_unspecified):
                bad.append((local, remote, state))
        elif not (ip(local).is_loopback and ip(remote).is_loopback):
            bad.append((local, remote, state))
    return bad
