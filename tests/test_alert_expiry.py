"""Alert expiry by age and by the open cap, from heaps (console.engine.alert_expiry): the same alerts,
in the same order, as a scan and a sort of the whole open queue, whatever operators and detectors did
to them in between."""
from __future__ import annotations

import random

from console.engine.alerts import AlertBook, AlertState
from console.engine.detectors.base import Finding, Severity

HOUR = 3600.0


def reference_expiry(book: AlertBook, now: float, max_age: float, cap: int) -> list[int]:
    """What expire() must end, in order: the plain definition over every open alert."""
    live = book.live()
    aged = [a for a in live if max_age > 0 and a.at < now - max_age and a.severity < Severity.HIGH
            and not a.attended]
    gone = {a.id for a in aged}
    rest = [a for a in live if a.id not in gone]
    over = len(rest) - cap
    capped = sorted(rest, key=lambda a: (a.attended, a.severity, a.at, a.id))[:over] if cap > 0 and over > 0 else []
    return [a.id for a in aged + capped]


def random_step(book: AlertBook, rng: random.Random, now: float) -> None:
    live = book.live()
    r = rng.random()
    if r < 0.55 or not live:
        book.apply(Finding(kind=rng.choice(["ad", "flood", "silent_group"]), severity=Severity(rng.randint(1, 3)),
                           group=f"g{rng.randrange(12)}", member=f"m{rng.randrange(6)}",
                           reasons=(f"r{rng.randrange(4)}",), at=now, clears=rng.random() < 0.08))
        return
    a = rng.choice(live)
    if r < 0.63:
        book.acknowledge(a.id, now)
    elif r < 0.70:
        book.snooze(a.id, now + rng.choice([60.0, 5 * HOUR]))
    elif r < 0.76:
        book.claim(a.id, "alice", now)
    elif r < 0.82:
        book.unacknowledge(a.id)
    elif r < 0.86:
        book.handled(a.id, "bob", now, "warned")
    elif r < 0.92:
        book.resolve(a.id, now, "alice")
    else:
        ended = book.resolved()
        if ended:
            try:
                book.reopen(rng.choice(ended).id)
            except KeyError:
                pass  # a newer alert holds its key


def test_expiry_matches_a_scan_and_sort_of_the_whole_queue():
    for seed in range(12):
        rng = random.Random(seed)
        book = AlertBook(keep_resolved=40)
        expired = []
        book.subscribe(lambda a, c: expired.append(a.id) if a.state is AlertState.EXPIRED else None)
        now, max_age, cap = 0.0, 6 * HOUR, rng.choice([0, 15, 40])
        for _ in range(60):
            for _ in range(rng.randrange(1, 25)):
                now += rng.choice([1.0, 60.0, 600.0])
                random_step(book, rng, now)
            book.wake_snoozed(now)
            want = reference_expiry(book, now, max_age, cap)
            expired.clear()
            assert book.expire(now, max_age, cap) == len(want)
            assert expired == want, f"seed {seed}"
            assert all(book.get(i).state is AlertState.EXPIRED for i in want)
            q = book._expiry  # bounded by the open queue, however many changes it saw
            assert len(q) == len(book) and len(q._by_rank) + len(q._by_age) <= 4 * len(book) + 128


def test_a_restored_book_expires_what_the_saved_one_would():
    rng = random.Random(7)
    book, now = AlertBook(), 0.0
    for _ in range(300):
        now += 120.0
        random_step(book, rng, now)
    restored = AlertBook()
    restored.load_docs(book.to_docs())
    later = now + 10 * HOUR
    want = reference_expiry(restored, later, 6 * HOUR, 20)
    assert want, "the scenario must expire something"
    ended = []
    restored.subscribe(lambda a, c: ended.append(a.id))
    restored.expire(later, 6 * HOUR, 20)
    assert ended == want
