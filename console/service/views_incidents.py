"""The views of incidents and silences (what the Alerts and Silences screens and `silence list` show)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from console.engine.incidents import Incident
from console.engine.text import visible
from console.service.api import AlertView, IncidentDetail, IncidentsPage, IncidentView, ServiceError, SilenceView

if TYPE_CHECKING:
    from console.service.views import Views

HANDLED_STATES = ("acknowledged", "snoozed")


def incident_order(incidents: list[Incident]) -> list[Incident]:
    """Waiting ones first, then the worst and newest."""
    return sorted(incidents, key=lambda i: (not i.paging and i.state.value != "open", -i.severity, -i.at, i.id))


class IncidentViews:
    def __init__(self, views: "Views") -> None:
        self.views = views
        self.engine = views.engine
        self._rows: dict[int, tuple[tuple, IncidentView]] = {}

    def view(self, i: Incident) -> IncidentView:
        key = (i.at, i.state, i.count, i.open_count, i.severity, i.claimed_by, i.acked_by, i.silenced_by, i.inhibited,
               i.title, i.rule, len(i.timeline), i.snoozed_until)
        hit = self._rows.get(i.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        e = self.engine
        v = IncidentView(id=i.id, rule=i.rule, key=visible(i.key, 120), kind=i.kind, severity=i.severity.label,
                         title=i.title, count=i.count, open_count=i.open_count, alert_ids=list(i.alert_ids),
                         groups=list(i.groups), group_names=[e.group_name(g) or g for g in i.groups[:20]],
                         members=list(i.members), first_at=i.first_at, at=i.at, state=i.state.value,
                         acked_by=i.acked_by, acked_at=i.acked_at, claimed_by=i.claimed_by, claimed_at=i.claimed_at,
                         resolved_by=i.resolved_by, resolved_at=i.resolved_at, snoozed_until=i.snoozed_until,
                         silenced_by=i.silenced_by, inhibited=i.inhibited, paging=i.paging,
                         timeline=[[t, s] for t, s in i.timeline])
        if i.is_live:
            self._rows[i.id] = (key, v)
        return v

    def page(self, limit: int | None, ended: bool) -> IncidentsPage:
        incs = self.engine.incidents
        live = incs.live()
        ordered = incident_order(live)
        if ended:
            ordered += sorted(incs.ended(), key=lambda i: -i.at)
        if limit is not None:
            ordered = ordered[:max(0, limit)]
        views = [self.view(i) for i in ordered]
        if len(self._rows) > 2 * len(live) + 1000:
            keep = {i.id for i in live}
            self._rows = {k: v for k, v in self._rows.items() if k in keep}
        return IncidentsPage(views, len(live))

    def detail(self, incident_id: int) -> IncidentDetail:
        incs = self.engine.incidents
        i = incs.get(incident_id)
        if i is None:
            raise ServiceError(f"no incident #{incident_id}")
        alerts = sorted(incs.alerts_of(i), key=lambda a: (not a.is_live, -a.severity, -a.at, a.id))
        return IncidentDetail(self.view(i), [self.views.alert_view(a) for a in alerts])

    def silences(self) -> list[SilenceView]:
        e = self.engine
        now = e.now()
        silencing: dict[int, int] = {}
        for i in e.incidents.live():
            if i.silenced_by is not None:
                silencing[i.silenced_by] = silencing.get(i.silenced_by, 0) + 1
        return [SilenceView(id=s.id, matchers=dict(s.matchers), starts_at=s.starts_at, ends_at=s.ends_at,
                            created_by=s.created_by, comment=s.comment, active=s.active(now),
                            silencing=silencing.get(s.id, 0)) for s in e.silences.list()]

    def history(self, limit: int | None) -> list[AlertView]:
        """Ended alerts (resolved or expired), newest first: the bounded history the engine keeps."""
        ended = list(reversed(self.engine.alerts.resolved()))
        if limit is not None:
            ended = ended[:max(0, limit)]
        return [self.views.alert_view(a) for a in ended]
