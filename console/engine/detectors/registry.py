"""Which detectors run, built from settings. A new detector is one line here."""
from __future__ import annotations

from console.engine.detectors.base import Detector
from console.engine.detectors.churn import ChurnDetector
from console.engine.detectors.flood import FloodDetector
from console.engine.detectors.silence import SilentGroupDetector, SilentMemberDetector
from console.engine.settings import DetectorSettings


def build_detectors(s: DetectorSettings) -> list[Detector]:
    from console.engine.detectors.ad import AdDetector  # the ad rules are the heaviest import

    candidates: list[tuple[bool, Detector]] = [
        (s.ad.enabled, AdDetector(s.ad)),
        (s.flood.enabled, FloodDetector(s.flood)),
        (s.silent_member.enabled, SilentMemberDetector(s.silent_member)),
        (s.silent_group.enabled, SilentGroupDetector(s.silent_group)),
        (s.churn_spike.enabled, ChurnDetector(s.churn_spike)),
    ]
    return [d for enabled, d in candidates if enabled]
