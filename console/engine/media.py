"""Images in messages: fetched through the connector, QR codes decoded here, ad findings raised.

The ``ad`` detector scores a message's text on the hot path; an image needs a download and
a decode, which must never hold up the events behind it. So the scanner is an engine
observer that only queues a message's images (``on_event``: a deque append), and an engine
service (``run``) that fetches them through the connector's ``media`` method under a size
and a time limit, decodes them in a thread (:mod:`~console.engine.detectors.ad_qr`) and
then raises an ``ad`` finding for the message if what the images showed, with its text,
scores over the threshold. The alert book merges it with a finding the text already raised.

* Cache: by content hash (sha256 of the bytes) and by the platform's own file key, so an ad
  image posted to 40 groups is downloaded once per key and decoded once.
* Failure: a download that is too large, times out or fails, and an image that does not
  decode, is a reason "image not checked: ...", added to the message's alert if it has
  one, never an exception out of the scanner.
* Known-bad payloads: a QR payload sent by a member who is (or becomes) blacklisted flags
  every copy, past ones in the scanner's memory at once and later ones as they come.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

from connectors.contract import ConnectorError, MediaTooLarge
from connectors.events import Event, Media, Message
from console.engine.detectors.ad_qr import ImageError, classify, decode, shown
from console.engine.detectors.ad_text import noisy_or
from console.engine.detectors.base import Context, Finding, Severity

log = logging.getLogger("groupwatch.media")

QUEUE_MAX = 500
"""Messages with images waiting to be checked; past this the oldest are dropped (a flood of images
must not grow memory; a dropped one is no worse than one never posted)."""
CONCURRENCY = 4
"""Images fetched and decoded at the same time."""
IMAGES_PER_MESSAGE = 4
"""Images of one message checked (an album of 9 is checked by its first few)."""
CACHE_SIZE = 4096
SIGHTINGS_KEPT = 2000
"""QR payloads remembered with where they were seen, for flagging every copy of a known-bad one."""
COPIES_KEPT = 32
KNOWN_BAD_WEIGHT = 0.99
BAD_KEPT = 10_000  # known-bad payloads saved (the newest): a blacklist is long, its QR codes fewer
EXCERPT_CHARS = 200


@dataclass(slots=True, frozen=True)
class ImageCheck:
    """What one image showed: QR payloads, or why it was not checked."""

    payloads: tuple[str, ...] = ()
    error: str | None = None


@dataclass(slots=True)
class Sighting:
    group: str
    member: str
    message_id: str
    at: float
    excerpt: str


@dataclass(slots=True)
class _Job:
    event: Message
    connector: str | None
    queued: float = field(default_factory=time.monotonic)


class MediaScanner:
    """Engine observer (queues) and service (checks); see the module docstring."""

    def __init__(self, engine, detector) -> None:
        self.engine = engine
        self.detector = detector
        self._jobs: deque[_Job] = deque(maxlen=QUEUE_MAX)
        self._tasks: set[asyncio.Task] = set()
        self._wake: asyncio.Event | None = None
        self._by_hash: OrderedDict[str, ImageCheck] = OrderedDict()
        self._by_key: OrderedDict[str, ImageCheck] = OrderedDict()  # platform key (or URL, or ref) -> result
        self._inflight: dict[str, asyncio.Future] = {}
        self.sightings: OrderedDict[str, list[Sighting]] = OrderedDict()
        self.bad: dict[str, str] = {}  # payload -> who sent it (a blacklisted member)
        self._reported: OrderedDict[tuple[str, str], None] = OrderedDict()  # copies flagged as known-bad
        self.is_blacklisted: Callable[[str, float], bool] | None = None  # set by moderation
        self.checked = self.failed = self.downloads = 0

    @property
    def settings(self):
        return self.detector.settings

    # -- observer: the hot path ---------------------------------------------------
    def on_event(self, ev: Event) -> None:
        if type(ev) is not Message or not ev.media or not self.settings.scan_images:
            return
        if ev.sender in self.detector._allow_members:
            return
        if not any(m.kind == "image" for m in ev.media):
            return
        self._jobs.append(_Job(ev, self.engine.group_owner.get(ev.group)))
        if self._wake is not None:
            self._wake.set()

    def on_tick(self, now: float) -> None:
        return None

    @property
    def pending(self) -> int:
        return len(self._jobs) + len(self._tasks)

    # -- service ---------------------------------------------------------------------
    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
            await self.drain()

    async def drain(self) -> None:
        """Check every queued image, and wait for those being checked (tests and benches await this)."""
        while self._jobs or self._tasks:
            while self._jobs and len(self._tasks) < CONCURRENCY:
                job = self._jobs.popleft()
                task = asyncio.create_task(self._guarded(job), name="media-check")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._tasks:
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    async def _guarded(self, job: _Job) -> None:
        try:
            await self.check_message(job.event, job.connector)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must cost one message's images, not the scanner
            log.exception("media check failed for a message in %s", job.event.group)

    # -- the work ---------------------------------------------------------------------
    async def check_message(self, ev: Message, connector: str | None = None) -> Finding | None:
        """Check the images of ``ev``; apply (and return) the ad finding they give, if any."""
        images = [m for m in ev.media if m.kind == "image"][:IMAGES_PER_MESSAGE]
        checks = [await self.check_image(ev.group, m, connector) for m in images]
        finding = self._finding(ev, checks)
        if finding is not None:
            self.engine.alerts.apply(finding)
        return finding

    async def check_image(self, group: str, media: Media, connector: str | None = None) -> ImageCheck:
        key = media.key or media.url or f"{group}\x1f{media.ref}"
        done = self._by_key.get(key)
        if done is not None:
            return done
        running = self._inflight.get(key)
        if running is None:  # the same image posted to 40 groups at once: one download
            running = self._inflight[key] = asyncio.ensure_future(self._check_image(group, media, connector, key))
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(running)

    async def _check_image(self, group: str, media: Media, connector: str | None, key: str) -> ImageCheck:
        s = self.settings
        if media.size is not None and media.size > s.image_max_bytes:
            return self._failed(f"too large ({_mb(media.size)} over the {_mb(s.image_max_bytes)} limit)")
        conn = self.engine.connectors.get(connector) if connector else self.engine.connector_for(group)
        if conn is None:
            return self._failed("no connector watches this group")
        fetch = conn.media
        self.downloads += 1
        try:
            data = await asyncio.wait_for(fetch(group, media, s.image_max_bytes), s.image_timeout_s)
        except asyncio.TimeoutError:
            return self._failed(f"download timed out after {s.image_timeout_s:g} s")
        except MediaTooLarge:
            return self._failed(f"too large (over the {_mb(s.image_max_bytes)} limit)")
        except ConnectorError as e:
            return self._failed(f"download failed: {_line(str(e))}")
        except Exception as e:  # a connector's bug: one image unchecked, the scanner goes on
            log.warning("media download from %s failed: %s", group, type(e).__name__)
            return self._failed(f"download failed ({type(e).__name__})")
        if len(data) > s.image_max_bytes:  # a connector that did not honour the limit
            return self._failed(f"too large ({_mb(len(data))} over the {_mb(s.image_max_bytes)} limit)")
        digest = hashlib.sha256(data).hexdigest()
        check = self._by_hash.get(digest)
        if check is None:
            try:
                payloads = await asyncio.to_thread(decode, data)
                check = ImageCheck(tuple(payloads))
            except ImageError as e:
                check = ImageCheck(error=str(e))
            _put(self._by_hash, digest, check)
        _put(self._by_key, key, check)
        if check.error:
            self.failed += 1
        else:
            self.checked += 1
        return check

    def _failed(self, why: str) -> ImageCheck:
        self.failed += 1
        return ImageCheck(error=why)

    def _finding(self, ev: Message, checks: list[ImageCheck]) -> Finding | None:
        s = self.settings
        ctx = Context(self.engine.stats, ev.at)
        signals: list[tuple[str, float]] = []
        errors: list[str] = []
        newly_bad = False
        for c in checks:
            if c.error:
                errors.append(f"image not checked: {c.error}")
            for p in c.payloads:
                self._sighted(p, ev)
                if p not in self.bad and self.is_blacklisted is not None and self.is_blacklisted(ev.sender, ev.at):
                    self.bad[p] = ev.sender
                    newly_bad = True
                if p in self.bad:
                    signals.append((f"known-bad QR code (sent by blacklisted {self.bad[p]}): {shown(p)}",
                                    KNOWN_BAD_WEIGHT))
                    continue
                kind = classify(p)
                if kind is not None:
                    w = s.qr_weight if kind.weight >= 0.9 else kind.weight
                    signals.append((f"QR code: {kind.label} ({shown(p)})", w))
                else:  # plain text in a QR code: read like a message
                    score, reasons, _ = self.detector.text_score(p, ev.group, ctx)
                    if reasons:
                        signals.append((f"QR code text: {'; '.join(reasons[:3])}", score))
        if not signals and not errors:
            return None
        text = ev.text
        tscore, treasons, judged = self.detector.text_score(text, ev.group, ctx) if text else (0.0, [], None)
        if judged is False and not any(w >= KNOWN_BAD_WEIGHT for _, w in signals):
            return None  # the operator said this very message is not an ad
        score = noisy_or([tscore] + [w for _, w in signals])
        reasons = [r for r, _ in signals] + treasons
        if score < s.threshold:
            current = self.engine.alerts.open_for("ad", ev.group, ev.sender)
            if not errors or current is None or current.message_id != ev.id:
                return None
            # The text was flagged already: say its images were not checked (merged into that alert).
            score = current.score or score
        known_bad = any(w >= KNOWN_BAD_WEIGHT for _, w in signals)
        if known_bad:
            _put(self._reported, (ev.group, ev.id), None)
        rounded = round(score, 3)
        f = Finding(kind="ad", severity=Severity.HIGH if score >= s.high_threshold or known_bad else Severity.MEDIUM,
                    group=ev.group, member=ev.sender, reasons=tuple(reasons + errors), at=ev.at,
                    excerpt=text[:EXCERPT_CHARS], message_id=ev.id, score=rounded, numbers={"score": rounded})
        if newly_bad:
            for extra in self._copies(ev.id):
                self.engine.alerts.apply(extra)
        return f

    # -- known-bad payloads --------------------------------------------------------------
    def _sighted(self, payload: str, ev: Message) -> None:
        copies = self.sightings.get(payload)
        if copies is None:
            if len(self.sightings) >= SIGHTINGS_KEPT:
                self.sightings.popitem(last=False)
            copies = self.sightings[payload] = []
        else:
            self.sightings.move_to_end(payload)
        if any(c.message_id == ev.id and c.group == ev.group for c in copies):
            return
        copies.append(Sighting(ev.group, ev.sender, ev.id, ev.at, ev.text[:EXCERPT_CHARS]))
        if len(copies) > COPIES_KEPT:
            del copies[0]

    def bad_docs(self) -> list[dict]:
        """The known-bad payloads for the checkpoint: a restart still flags every copy of them."""
        return [{"payload": p, "sender": s} for p, s in list(self.bad.items())[-BAD_KEPT:]]

    def load_bad(self, docs: list[dict]) -> None:
        for d in docs[-BAD_KEPT:]:
            payload, sender = d["payload"], d["sender"]
            if not isinstance(payload, str) or not isinstance(sender, str):
                raise ValueError("a known-bad QR record is not two strings")
            self.bad[payload] = sender

    def blacklisted(self, matches: Callable[[str], bool]) -> list[Finding]:
        """A member was blacklisted (``matches`` says who): every QR payload they sent is known-bad,
        and every copy seen, from anyone, is flagged at once. Returns the findings (applied already)."""
        for payload, copies in self.sightings.items():
            if payload not in self.bad:
                sender = next((c.member for c in copies if matches(c.member)), None)
                if sender is not None:
                    self.bad[payload] = sender
        out = self._copies(None)
        for f in out:
            self.engine.alerts.apply(f)
        return out

    def _copies(self, skip_message: str | None) -> list[Finding]:
        out = []
        for payload, sender in self.bad.items():
            for c in self.sightings.get(payload, ()):
                if c.message_id == skip_message or (c.group, c.message_id) in self._reported:
                    continue
                _put(self._reported, (c.group, c.message_id), None)
                out.append(Finding(kind="ad", severity=Severity.HIGH, group=c.group, member=c.member,
                                   reasons=(f"known-bad QR code (sent by blacklisted {sender}): {shown(payload)}",),
                                   at=c.at, excerpt=c.excerpt, message_id=c.message_id, score=KNOWN_BAD_WEIGHT,
                                   numbers={"score": KNOWN_BAD_WEIGHT}))
        return out


def _put(cache: OrderedDict, key: str, value) -> None:
    cache[key] = value
    if len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _line(text: str, limit: int = 120) -> str:
    t = " ".join(text.split())
    return t if len(t) <= limit else t[:limit - 1] + "…"


__all__ = ["ImageCheck", "MediaScanner", "Sighting"]
