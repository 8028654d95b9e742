"""Who gets which role: from ``[operators]`` by OS user and Unix group, decided by the service
from the peer's credentials, never from anything a client says about itself."""
from __future__ import annotations

from console.engine.settings import OperatorSettings
from console.service.api import Role


def role_for(user: str, groups: list[str], ops: OperatorSettings, owner: str) -> Role:
    """The service's own user runs it and owns its data: always admin. Then the user's own entry,
    then the highest of their Unix groups' entries, then ``default``."""
    if user == owner:
        return Role.ADMIN
    if user in ops.users:
        return Role(ops.users[user])
    found = [Role(ops.groups[g]) for g in groups if g in ops.groups]
    if found:
        return max(found, key=lambda r: r.rank)
    return Role(ops.default)


def allowed(role: Role, needed: Role) -> bool:
    return role.rank >= needed.rank
