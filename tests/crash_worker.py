"""The process the crash test kills: the real engine, moderation and store on the demo, working
through an operator's script of bulk actions while a schedule posts to every group.

    python -m tests.crash_worker BASE

BASE holds ``groupwatch.toml`` and the data dir; ``BASE/progress.jsonl`` gets one line per
intent the operator saw confirmed (the test compares those with what survived). Run it again
after a kill and it carries on as an operator would: recovery finishes what the ledger holds,
and an intent is issued again only if nothing of it was recorded (checked the way an operator
checks the audit log). Exits 0 once every intent is confirmed and ``FIRES`` schedule fires are
done; prints ``ready`` when the engine is up.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from console.engine.actions.model import ActionError, ActionState
from console.runtime import open_runtime, start

SCHEDULE = "crash-sched"
FIRES = 3
BLACKLISTED = 3   # members blacklisted by the operator (banned in every group)
WARNED = 5        # members warned once; the first of them twice (the second blacklists: escalation)


def pick_members(engine) -> list[str]:
    """Members present in the most groups first: blacklisting them acts in every group."""
    seen: dict[str, int] = {}
    for g in engine.stats.groups.values():
        for m in g.members.values():
            if m.present and not m.id.endswith(":operator"):
                seen[m.id] = seen.get(m.id, 0) + 1
    return sorted(seen, key=lambda k: (-seen[k], k))


def group_of(engine, member: str) -> str:
    return min(g for g, s in engine.stats.groups.items() if member in s.members and s.members[member].present)


def fires_done(ledger) -> int:
    stamps: dict[str, bool] = {}
    for a in ledger.actions():
        if a.key.startswith(f"schedule:{SCHEDULE}:"):
            stamp = a.key.split(":")[2]
            stamps[stamp] = stamps.get(stamp, True) and a.state is ActionState.DONE
    return sum(stamps.values())


def intents(rt) -> list[tuple[str, str, str]]:
    """(id, kind, argument): the same list on every start (members picked from the first snapshot)."""
    path = rt.data_dir.parent / "cast.json"
    if not path.exists():
        members = pick_members(rt.engine)
        cast = {"blacklist": members[:BLACKLISTED], "warn": members[BLACKLISTED:BLACKLISTED + WARNED]}
        path.write_text(json.dumps(cast))
    cast = json.loads(path.read_text())
    out = [("schedule", "schedule", "")]
    out += [(f"blacklist-{i}", "blacklist", m) for i, m in enumerate(cast["blacklist"])]
    out += [(f"warn-{i}", "warn", m) for i, m in enumerate(cast["warn"])]
    out += [(f"warn-{WARNED}", "warn", cast["warn"][0])]
    out += [("mention", "mention", "")]
    return out


async def work(rt, progress: Path) -> None:
    mod, engine = rt.moderation, rt.engine
    confirmed = {json.loads(line)["id"] for line in progress.read_text().splitlines()} if progress.exists() else set()
    out = progress.open("a")
    await start(rt)
    runner = asyncio.create_task(engine.run())
    while any(engine.cursors.get(n) is None for n in engine.connectors):
        await asyncio.sleep(0.02)  # the first snapshot
    print("ready", flush=True)
    now = engine.now
    for iid, kind, arg in intents(rt):
        if iid in confirmed:
            continue
        if kind == "schedule":
            if all(x.id != SCHEDULE for x in mod.schedules.list()):
                mod.schedules.add(id=SCHEDULE, cron="* * * * *", tz="UTC", target="all",
                                  template="{group}: today's notice at {time}", actor=mod.actor)
        elif kind == "blacklist":
            if mod.blacklist.match(arg, now()) is None:
                await mod.blacklist_add(arg, reason=f"crash test {iid}")
        elif kind == "warn":
            if not any(w.reason == iid for w in mod.warnings.of(arg, now())):
                await mod.warn(group_of(engine, arg), arg, iid)
        elif kind == "mention":
            for g in sorted(engine.stats.groups):
                await mod.mention_quiet(g)  # the cool-down keeps a second round from mentioning anyone again
        out.write(json.dumps({"id": iid}) + "\n")
        out.flush()
    while fires_done(mod.ledger) < FIRES:
        await asyncio.sleep(0.05)
    # Wait for the moderation worker to finish what it queued (automatic removals on rejoin).
    while mod.ledger.actions(ActionState.PENDING) or mod.ledger.actions(ActionState.SENDING):
        await asyncio.sleep(0.05)
    engine.stop()
    await runner
    # A fire that began between the wait above and the stop is finished now, not left pending.
    await mod.finish()
    print("finished", flush=True)


def main(base: str) -> int:
    b = Path(base)
    rt = open_runtime(str(b / "groupwatch.toml"), str(b / "data"))
    try:
        asyncio.run(work(rt, b / "progress.jsonl"))
    except ActionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
