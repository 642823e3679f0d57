"""Nothing the local stack starts listens beyond the loopback interface: not sls offline, not its
functions, not DynamoDB Local (which has no option for it, see devstack/dynamodb_local.py), not the
relays in front of them. Read from /proc, Linux only."""

import dataclasses
import ipaddress
import os
from pathlib import Path

import pytest
import requests

PROC = Path("/proc")
TCP_LISTEN = "0A"

pytestmark = pytest.mark.skipif(not (PROC / "net/tcp").exists(), reason="needs Linux's /proc")


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # The kernel prints each 32-bit word of the address in host (little-endian) order.
    raw = b"".join(bytes.fromhex(hex_address[i:i + 8])[::-1] for i in range(0, len(hex_address), 8))
    return ipaddress.ip_address(raw)


def listening_sockets() -> dict[int, tuple]:
    """{socket inode: (address, port)} for every listening TCP socket of this network namespace."""
    found = {}
    for table in ("tcp", "tcp6"):
        lines = (PROC / "net" / table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == TCP_LISTEN:
                address, port = local.split(":")
                found[inode] = (_address(address), int(port, 16))
    return found


def process_group(pgid: int) -> set[int]:
    """The ids of the processes in a process group (each stack part runs in a group of its own)."""
    members = set()
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name is in parentheses and may hold spaces: the fields after it are plain.
        after_name = text[text.rindex(")") + 2:].split()
        if int(after_name[2]) == pgid:
            members.add(int(stat.parent.name))
    return members


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        descriptors = list((PROC / str(pid) / "fd").iterdir())
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def is_loopback(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_the_proc_reader_finds_a_socket_of_this_process():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        listening = listening_sockets()
        ours = [listening[inode] for inode in socket_inodes(os.getpid()) if inode in listening]
    assert (ipaddress.ip_address("127.0.0.1"), port) in ours


def test_nothing_the_stack_starts_listens_beyond_loopback(stack):
    # A request of each kind starts the function processes behind them, so that they are checked too.
    assert requests.post(f"{stack.http_url}/guest", timeout=30).status_code == 201
    listening = listening_sockets()
    pids = set().union(*(process_group(process.pid) for process in stack.processes.values()))
    sockets = {listening[inode] for pid in pids for inode in socket_inodes(pid) if inode in listening}

    # Every port the stack announces is among them (so the check looked at the right processes)...
    announced = {getattr(stack.ports, field.name) for field in dataclasses.fields(stack.ports)}
    assert announced <= {port for _, port in sockets}, (announced, sockets)
    # ...and nothing listens on any other interface.
    exposed = sorted((str(address), port) for address, port in sockets if not is_loopback(address))
    assert exposed == []
