"""Who is on the other end of the socket, as the kernel says (SO_PEERCRED), never as a message says.

The user name and Unix groups found here are what ``[operators]`` maps to a role; a frame that
names a user or a role is ignored (see ``server``). No passwords: the socket's mode (0660) and
group decide who may connect at all, and the kernel vouches for the uid of whoever did.
"""
from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass
from typing import Any

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class PeerUnknown(Exception):
    """The kernel would not say who connected (not a Unix socket, or no SO_PEERCRED here)."""


@dataclass(frozen=True, slots=True)
class Peer:
    pid: int
    uid: int
    gid: int
    user: str                # "alice", or "uid:1234" for a uid with no passwd entry
    groups: tuple[str, ...]  # Unix group names ("gid:N" for a gid with no group entry)


def credentials(sock: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a connected Unix socket."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if sock is None or opt is None:
        raise PeerUnknown("cannot tell who is connecting (no SO_PEERCRED on this socket)")
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, opt, _UCRED.size)
    except OSError as e:
        raise PeerUnknown(f"cannot tell who is connecting: {e.strerror or e}") from None
    return _UCRED.unpack(raw)


def identify(sock: Any) -> Peer:
    pid, uid, gid = credentials(sock)
    user, groups = identity(uid, gid)
    return Peer(pid, uid, gid, user, groups)


def identity(uid: int, gid: int) -> tuple[str, tuple[str, ...]]:
    """The user name and group names of a uid; ``gid`` is the peer's own group, used when the
    uid has no passwd entry (a container's user), so a group mapping can still apply."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return f"uid:{uid}", (_group_name(gid),)
    try:
        # The account's groups (its primary one and every /etc/group membership), as [operators]
        # means them; not the connecting process's supplementary groups, which SO_PEERCRED omits.
        gids = os.getgrouplist(entry.pw_name, entry.pw_gid)
    except OSError:
        gids = [entry.pw_gid]
    return entry.pw_name, tuple(dict.fromkeys(_group_name(g) for g in gids))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid:{gid}"
