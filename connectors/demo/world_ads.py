"""The adversaries of the simulated fleet: ad teams' campaigns, their accounts and comebacks,
floods (part of World)."""
from __future__ import annotations

from connectors.events import Event, Join, Leave, Media

from . import corpus, names
from .model import ACCOUNTS_KEPT, DAY, MINUTE, WAVE_CHANCE, GroupState, Person, Seat, Team


class Adversaries:
    """World's ad teams and flooders: see connectors.demo.world.World."""


    def _campaign(self, at: float, out: list[Event], first: bool = False) -> None:
        """One team posts one ad, with small variations, to 3-5 groups within a few minutes."""
        rng = self.rng
        team = self.teams[0] if first else self.teams[int(rng.random() * self._text_teams)]
        want = 4 + int(rng.random() * 2) if first else 3 + int(rng.random() * 3)
        fits = [g for g in self._targets if self._fits(team, g)]
        if len(fits) < want:
            fits = self._targets
        targets = rng.sample(fits, min(want, len(fits)))
        team.text = corpus.ad_text(rng, team.style, team.contact, team.contact_kind, team.handle)
        offsets = sorted(rng.random() * 4 * MINUTE for _ in targets)
        for k, (g, off) in enumerate(zip(targets, offsets)):
            off = 0.0 if k == 0 else off
            acct = self._account(team, g, fresh=first)
            self._at(at + off, self._ad_join, g, acct, corpus.vary(rng, team.text))
        if targets:
            if first:
                # The opening act must show a churn spike within the first sim hour.
                g = max(targets, key=lambda x: len(x.seats))
                self._at(at + 5 * MINUTE + rng.random() * 10 * MINUTE + MINUTE, self._wave, g)
            elif rng.random() < WAVE_CHANCE:
                big = [g for g in targets if len(g.seats) >= 30]
                if big:
                    g = big[int(rng.random() * len(big))]
                    self._at(at + rng.uniform(5.0, 15.0) * MINUTE + 5 * MINUTE, self._wave, g)
        self._at(at + rng.uniform(10.0, 20.0) * MINUTE / self.scale, self._campaign, False)

    def _image_campaign(self, at: float, out: list[Event], kind: str) -> None:
        """A QR-code image or a contact/group card, posted by fresh accounts to 2-3 groups."""
        rng, team = self._media_rng, self._image_team
        fits = [g for g in self._targets if g.lang != "en"] or self._targets
        targets = rng.sample(fits, min(2 + int(rng.random() * 2), len(fits)))
        text, media = corpus.image_ad(rng, kind)
        team.text = corpus.card_ad(rng)  # what a teammate re-posts after a kick: a card
        for k, g in enumerate(targets):
            acct = self._new_person(names.ad_account_name(rng, "zh", team.contact, "Q"), team.index)
            _enlist(team, acct)
            self._at(at + k * rng.uniform(20.0, 90.0), self._image_join, g, acct, text, media)
        nxt = "card" if kind == "qr" else "qr"
        self._at(at + rng.uniform(25.0, 50.0) * MINUTE / self.scale, self._image_campaign, nxt)

    def _image_join(self, at: float, out: list[Event], g: GroupState, acct: Person, text: str,
                    media: tuple[str, ...]) -> None:
        if self._banned(g, acct.id, at):
            self.refused_joins.append((g.id, acct.id, at))
            return
        if acct.id not in g.seats:
            self._add(g, Seat(acct, at, None))
            out.append(Join(g.id, acct.id, acct.name, at, None))
            self._moves_on(at, g, acct)
        self._at(at + self._media_rng.uniform(5.0, 40.0), self._say_media, g, acct.id, text, media)

    def _say_media(self, at: float, out: list[Event], g: GroupState, pid: str, text: str, media: tuple[str, ...]) -> None:
        seat = g.seats.get(pid)
        if seat is None or seat.muted_until > at:
            return
        self._post(g, seat, text, at, out, label="ad",
                   media=tuple(Media("image", ref, key=f"demo-{ref}") for ref in media))

    def _account(self, team: Team, g: GroupState, fresh: bool = False) -> Person:
        rng = self.rng
        if not fresh and team.accounts and rng.random() < 0.4:
            # Reused accounts end up in several groups: what a fleet-wide blacklist is for.
            free = [a for a in team.accounts if a.id not in g.seats and a.id not in g.banned]
            if free:
                return free[int(rng.random() * len(free))]
        shown = corpus.obfuscate(rng, team.contact)
        seps = corpus.SEPARATORS_QQ if team.contact_kind == "qq" else corpus.SEPARATORS_WX
        name = names.ad_account_name(rng, team.lang, shown, seps[int(rng.random() * len(seps))])
        acct = self._new_person(name, team.index)
        _enlist(team, acct)
        return acct

    def _inviter(self, team: Team, g: GroupState, exclude: str) -> str | None:
        for p in team.sleepers:
            if p.id in g.seats:
                return p.id
        for p in team.accounts:
            if p.id != exclude and p.id in g.seats:
                return p.id
        return None

    def _ad_join(self, at: float, out: list[Event], g: GroupState, acct: Person, text: str) -> None:
        rng = self.rng
        if self._banned(g, acct.id, at):
            self.refused_joins.append((g.id, acct.id, at))
            return
        if acct.id not in g.seats:
            team = self.teams[acct.team]
            inviter = self._inviter(team, g, acct.id) if rng.random() < 0.6 else None
            self._add(g, Seat(acct, at, None))
            out.append(Join(g.id, acct.id, acct.name, at, inviter))
            self._moves_on(at, g, acct)
        if text:
            # A newcomer's first message, within a minute of joining.
            self._at(at + rng.uniform(5.0, 50.0), self._say, g, acct.id, text, "ad")

    def _moves_on(self, at: float, g: GroupState, acct: Person) -> None:
        """A promoter left alone leaves within a day or two (its work there is done): an unattended
        fleet does not fill up with ad accounts. Drawn from a stream of its own, so the rest of the
        world is what it was."""
        self._at(at + self._leave_rng.uniform(0.5, 2.0) * DAY, self._ad_leave, g, acct.id)

    def _ad_leave(self, at: float, out: list[Event], g: GroupState, pid: str) -> None:
        if pid in g.seats:
            self._remove(g, pid)
            out.append(Leave(g.id, pid, at))

    def _team_reacts(self, g: GroupState, acct: Person, at: float) -> None:
        """Kicking one promoter is not enough: a teammate pulls it back and a new account arrives."""
        rng = self.rng
        team = self.teams[acct.team]
        again = corpus.vary(rng, team.text) if rng.random() < 0.5 else ""
        self._at(at + rng.uniform(2.0, 10.0) * MINUTE, self._ad_join, g, acct, again)
        self._at(at + rng.uniform(5.0, 30.0) * MINUTE, self._comeback, g, team.index)

    def _comeback(self, at: float, out: list[Event], g: GroupState, team_index: int) -> None:
        team = self.teams[team_index]
        acct = self._account(team, g, fresh=True)
        self._ad_join(at, out, g, acct, corpus.vary(self.rng, team.text))

    def _flood(self, at: float, out: list[Event]) -> None:
        """Someone posts 10-15 lines within a minute (灌水), well over a flood threshold."""
        rng = self.rng
        if self._talking:
            g = rng.choices(self._talking, cum_weights=self._talk_cum)[0]
            seat = self._pick_speaker(g)
            if seat is not None:
                count = 10 + int(rng.random() * 6)
                span = rng.uniform(30.0, 58.0)
                same = rng.random() < 0.5
                line = corpus.FLOOD_LINES[int(rng.random() * len(corpus.FLOOD_LINES))]
                for off in sorted(rng.random() * span for _ in range(count)):
                    text = line if same else corpus.FLOOD_LINES[int(rng.random() * len(corpus.FLOOD_LINES))]
                    self._at(at + off, self._say, g, seat.person.id, text, "flood")
        self._at(at + rng.uniform(30.0, 90.0) * MINUTE / self.scale, self._flood)


def _enlist(team: Team, acct: Person) -> None:
    """A new account joins the team's pool; the oldest beyond ``ACCOUNTS_KEPT`` are retired."""
    team.accounts.append(acct)
    if len(team.accounts) > ACCOUNTS_KEPT:
        del team.accounts[:len(team.accounts) - ACCOUNTS_KEPT]
