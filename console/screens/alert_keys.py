"""The triage and action keys of the alert screens, on whatever the rows are: incidents (targets
``incident:<id>``, the service expands them to their alerts) or single alerts (their ids).

Undo: this console's last acknowledge, snooze, resolve or "not an ad" is kept (until the console
closes) with the alerts it changed; `U` or ctrl+z sends the inverse command (un-acknowledge, reopen,
or for "not an ad" undo_not_ad: the verdict forgotten by the ad model, the alerts reopened) through the
service, like any other command.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding

from console.engine.actions.model import ActionError
from console.engine.durations import parse_duration
from console.engine.text import visible
from console.screens.cells import SEVERITY_STYLE, ago, untrusted
from console.screens.modals import Field, FormScreen
from console.service.api import AlertView, Command, IncidentView, Report

UNDO_KEPT = 50
INVERSE = {"ack": "unack", "snooze": "unack", "resolve": "reopen", "not_ad": "undo_not_ad"}


@dataclass(slots=True)
class Undo:
    command: str       # the inverse: unack, reopen or undo_not_ad
    alerts: list[int]
    what: str          # "acknowledge of 3 alert(s)"


_UNDO: "weakref.WeakKeyDictionary[object, list[Undo]]" = weakref.WeakKeyDictionary()


def undo_stack(app) -> list[Undo]:
    """One per console (the app): what its operator did, newest last."""
    stack = _UNDO.get(app)
    if stack is None:
        stack = _UNDO[app] = []
    return stack


class TriageKeys:
    """Mixed into a TableScreen whose rows are keyed by alert id or by ``incident:<id>`` and which keeps
    ``by_key`` (alert views) and ``incidents`` (incident views) of its last data."""

    TRIAGE_BINDINGS = [
        Binding("a", "acknowledge", "Ack"),
        Binding("c", "claim", "Claim"),
        Binding("u", "reopen", "Un-ack", show=False),
        Binding("z", "snooze", "Snooze"),
        Binding("r", "resolve", "Resolve"),
        Binding("w", "warn", "Warn"),
        Binding("b", "blacklist", "Blacklist"),
        Binding("d", "delete", "Delete msg", show=False),
        Binding("M", "mute", "Mute", show=False),
        Binding("n", "not_ad", "Not an ad", show=False),
        Binding("U,ctrl+z", "undo", "Undo", show=False),
    ]
    by_key: dict[str, AlertView]
    incidents: dict[str, IncidentView]

    # --- what the keys act on ---

    def chosen(self) -> list[AlertView]:
        return [self.by_key[r.key] for r in self.targets() if r.key in self.by_key]

    def chosen_incidents(self) -> list[IncidentView]:
        return [self.incidents[r.key] for r in self.targets() if r.key in getattr(self, "incidents", {})]

    def _targets(self, alerts: list[AlertView] | None = None) -> list:
        incs = self.chosen_incidents()
        if incs:
            return [i.target for i in incs]
        return [a.id for a in (self.chosen() if alerts is None else alerts)]

    def _noun(self, n: int) -> str:
        return f"{n} incident(s)" if self.chosen_incidents() else f"{n} alert(s)"

    def _members(self, alerts: list[AlertView], what: str) -> list[AlertView]:
        """The alerts about a member, one per member; tells the operator what was left out."""
        out, seen = [], set()
        for a in alerts:
            if a.member is not None and a.group is not None and (a.group, a.member) not in seen:
                seen.add((a.group, a.member))
                out.append(a)
        skipped = len([a for a in alerts if a.member is None])
        if skipped:
            self.gw.notify(f"{what}: {skipped} alert(s) are about a whole group, not a member: left out")
        return out

    def _names(self, alerts: list[AlertView]) -> Text:
        names = [f"{visible_name(a.member_name or a.member)} ({visible(a.member or '', 60)})" for a in alerts[:8]]
        more = f" and {len(alerts) - 8} more" if len(alerts) > 8 else ""
        return Text(", ".join(names) + more)

    def _titles(self, incs: list[IncidentView]) -> Text:
        t = Text()
        for i in incs[:6]:
            t.append(f"#{i.id} ({i.count} alert(s)) ")
            t.append(untrusted(i.title, 70))
            t.append("\n")
        if len(incs) > 6:
            t.append(f"and {len(incs) - 6} more")
        return t

    def _after(self, _report=None) -> None:
        self.clear_marks()

    def alert_detail(self, t: Text, a: AlertView, now: float) -> None:
        t.append(f"#{a.id} {a.kind} {a.severity}", style=SEVERITY_STYLE[a.severity])
        t.append(f"  {a.state}  hits {a.hits}  ")
        t.append(untrusted(a.group_name or a.group or "(fleet)", 40))
        if a.member:
            t.append(" / ")
            t.append(untrusted(a.member_name or a.member, 30))
            t.append(f" ({visible(a.member, 40)})", style="dim")
        if a.state_by and a.state != "open":
            t.append(f"  {a.state} by {visible(a.state_by, 30)} {ago(now, a.state_at)} ago", style="cyan")
        if a.claimed_by:
            t.append(f"  claimed by {visible(a.claimed_by, 30)} {ago(now, a.claimed_at)} ago", style="cyan")
        if a.handled_by:
            t.append(f"  {visible(a.handled_how or 'handled', 20)} by {visible(a.handled_by, 30)} "
                     f"{ago(now, a.handled_at)} ago", style="cyan")
        t.append("\n")
        t.append(untrusted(a.reason, 300))
        if a.excerpt:
            t.append("\n")
            t.append(untrusted(a.excerpt, 300, "dim"))

    # --- triage ---

    def _remember(self, name: str):
        """The command's done-callback: clears marks and keeps what an undo needs."""
        def done(report: Report) -> None:
            alerts = [a for a in report.data.get("alerts", []) if isinstance(a, int)]
            if name in INVERSE and alerts:
                stack = undo_stack(self.app)
                stack.append(Undo(INVERSE[name], alerts, f"{name} of {len(alerts)} alert(s)"))
                del stack[:-UNDO_KEPT]
            self._after(report)
        return done

    def _triage(self, name: str, params: dict | None = None, confirm: str | None = None,
                detail: Text | str = "") -> None:
        if not self.gw.writable(name):
            return
        targets = self._targets()
        if not targets:
            self.gw.notify(f"{name}: no row under the cursor")
            return
        self.gw.act(Command(name, targets, params or {}), confirm=confirm, detail=detail,
                    done=self._remember(name))

    def action_acknowledge(self) -> None:
        self._triage("ack")

    def action_reopen(self) -> None:
        self._triage("unack")

    def action_claim(self) -> None:
        self._triage("claim")

    def action_resolve(self) -> None:
        n = len(self._targets())
        incs = self.chosen_incidents()
        self._triage("resolve", confirm=f"Resolve {self._noun(n)}?",
                     detail=self._titles(incs) if incs else "They leave the queue (U undoes it).")

    def action_snooze(self) -> None:
        targets = self._targets()
        if not self.gw.writable("snooze"):
            return
        if not targets:
            self.gw.notify("snooze: no row under the cursor")
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is not None:
                self.gw.act(Command("snooze", targets, {"seconds": parse_duration(v["for"])}),
                            done=self._remember("snooze"))

        self.app.push_screen(FormScreen(f"Snooze {self._noun(len(targets))}", [Field("for", "For how long", "1h")],
                                        check_duration), chosen)

    def action_not_ad(self) -> None:
        if not self.gw.writable("not_ad"):
            return
        incs = self.chosen_incidents()
        if incs:
            targets = [i.target for i in incs if i.kind == "ad" or i.rule in ("sender", "wave")]
            detail: Text | str = self._titles(incs)
        else:
            ads = [a for a in self.chosen() if a.kind == "ad"]
            targets, detail = [a.id for a in ads], self._names(ads)
        if not targets:
            self.gw.notify("'not an ad' applies to ad alerts only")
            return
        self.gw.act(Command("not_ad", targets), confirm=f"Not an ad: {self._noun(len(targets))}?",
                    detail=Text.assemble("The ad model learns these messages as not ads and the alerts are "
                                         "dismissed (U puts them back).\n", detail),
                    done=self._remember("not_ad"))

    def action_undo(self) -> None:
        if not self.gw.writable("unack"):
            return
        stack = undo_stack(self.app)
        if not stack:
            self.gw.notify("nothing to undo")
            return
        last = stack.pop()
        self.gw.notify(f"undo: {last.what}")
        self.gw.act(Command(last.command, last.alerts), done=self._after)

    # --- platform actions ---

    def action_warn(self) -> None:
        if not self.gw.writable("warn_alerts"):
            return
        incs = self.chosen_incidents()
        if incs:
            self.gw.act(Command("warn_alerts", [i.target for i in incs]),
                        confirm=f"Warn the members of {len(incs)} incident(s)?", done=self._after,
                        detail=Text.assemble("Posts the group's rules with a mention, once per member and group.\n",
                                             self._titles(incs)))
            return
        alerts = self._members(self.chosen(), "warn")
        if alerts:
            self.gw.act(Command("warn_alerts", [a.id for a in alerts]), confirm=f"Warn {len(alerts)} member(s)?",
                        done=self._after,
                        detail=Text.assemble("Posts the group's rules with a mention; repeated warnings escalate "
                                             "by the policy.\n", self._names(alerts)))

    def action_blacklist(self) -> None:
        if not self.gw.writable("blacklist_alerts"):
            return
        incs = self.chosen_incidents()
        if incs:
            members = sorted({m for i in incs for m in i.members})
            self.gw.act(Command("blacklist_alerts", [i.target for i in incs]),
                        confirm=f"Blacklist {len(members)} member(s) of {len(incs)} incident(s)?", done=self._after,
                        detail=Text.assemble("Bans them in every watched group of their platform; their open "
                                             "alerts are resolved.\n",
                                             Text(", ".join(visible(m, 40) for m in members[:8]))))
            return
        alerts = self._members(self.chosen(), "blacklist")
        if alerts:
            self.gw.act(Command("blacklist_alerts", [a.id for a in alerts]),
                        confirm=f"Blacklist {len(alerts)} member(s)?", done=self._after,
                        detail=Text.assemble("Bans them in every watched group of their platform and removes "
                                             "them again if they rejoin.\n", self._names(alerts)))

    def action_delete(self) -> None:
        if not self.gw.writable("delete_alerts"):
            return
        incs = self.chosen_incidents()
        if incs:
            self.gw.act(Command("delete_alerts", [i.target for i in incs]),
                        confirm=f"Delete every message of {len(incs)} incident(s)?", done=self._after,
                        detail=self._titles(incs))
            return
        alerts = [a for a in self.chosen() if a.message_id and a.group]
        if not alerts:
            self.gw.notify("no message to delete: these alerts are not about one message")
            return
        self.gw.act(Command("delete_alerts", [a.id for a in alerts]), confirm=f"Delete {len(alerts)} message(s)?",
                    done=self._after, detail=Text("\n".join(visible_name(a.excerpt or "")[:70] for a in alerts[:5])))

    def action_mute(self) -> None:
        if not self.gw.writable("mute_alerts"):
            return
        incs = self.chosen_incidents()
        if incs:
            targets: list = [i.target for i in incs]
            question, detail = f"members of {len(incs)} incident(s)", self._titles(incs)
        else:
            alerts = self._members(self.chosen(), "mute")
            targets, question, detail = [a.id for a in alerts], f"{len(alerts)} member(s)", self._names(alerts)
        if not targets:
            return

        def chosen(v: dict[str, str] | None) -> None:
            if v is None:
                return
            self.gw.act(Command("mute_alerts", targets, {"seconds": int(parse_duration(v["for"]))}),
                        confirm=f"Mute {question} for {v['for']}?", detail=detail, done=self._after)

        self.app.push_screen(FormScreen(f"Mute {question}", [Field("for", "For how long", "1d")], check_duration),
                             chosen)


def check_duration(v: dict[str, str]) -> str | None:
    """The form's check of its "for" field: the duration parser's one-line error, or None."""
    try:
        parse_duration(v["for"])
    except ActionError as e:
        return str(e)
    return None


def visible_name(text: str | None) -> str:
    return visible(text or "", 40)
