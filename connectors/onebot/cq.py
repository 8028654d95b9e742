"""CQ codes: OneBot v11's string message format, and the segments behind it.

A message is either an array of segments (``{"type": "text", "data": {"text":
...}}``) or a string where segments other than text are written as
``[CQ:type,key=value,...]``. In the string form ``&``, ``[`` and ``]`` in text
are escaped (``&amp;`` ``&#91;`` ``&#93;``) and parameter values also escape
``,`` (``&#44;``). Getting this wrong either garbles what people typed or lets a
stranger's ``[CQ:at,qq=all]`` become a real mention when we quote it back.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

Segment = dict[str, Any]  # {"type": str, "data": {str: str}}

_UNESCAPE = {"&amp;": "&", "&#91;": "[", "&#93;": "]", "&#44;": ","}
_ENTITY = re.compile(r"&(?:amp|#91|#93|#44);")
# A CQ code: type, then ",key=value" pairs; a raw "]" or "[" never occurs inside one (they are escaped).
_CODE = re.compile(r"\[CQ:([A-Za-z0-9_.\-]+)((?:,[^\[\]]*)?)\]")


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")


def escape_param(value: str) -> str:
    return escape_text(value).replace(",", "&#44;")


def unescape(text: str) -> str:
    # One pass, so an escaped entity ("&amp;#91;") comes back as the literal text "&#91;".
    return _ENTITY.sub(lambda m: _UNESCAPE[m.group(0)], text)


def text_segment(text: str) -> Segment:
    return {"type": "text", "data": {"text": text}}


def at_segment(qq: str | int) -> Segment:
    return {"type": "at", "data": {"qq": str(qq)}}


def parse(message: str) -> list[Segment]:
    """A CQ string as segments; text that only looks like a code stays text."""
    out: list[Segment] = []
    pos = 0
    for m in _CODE.finditer(message):
        if m.start() > pos:
            out.append(text_segment(unescape(message[pos:m.start()])))
        data: dict[str, str] = {}
        for pair in m.group(2)[1:].split(",") if m.group(2) else ():
            key, sep, value = pair.partition("=")
            if key:
                data[key] = unescape(value) if sep else ""
        out.append({"type": m.group(1), "data": data})
        pos = m.end()
    if pos < len(message):
        out.append(text_segment(unescape(message[pos:])))
    return out


def to_string(segments: Iterable[Segment]) -> str:
    """Segments as one CQ string, escaped so that it parses back to the same segments."""
    parts: list[str] = []
    for seg in segments:
        kind, data = seg["type"], seg.get("data") or {}
        if kind == "text":
            parts.append(escape_text(str(data.get("text", ""))))
        else:
            params = "".join(f",{k}={escape_param(str(v))}" for k, v in data.items())
            parts.append(f"[CQ:{kind}{params}]")
    return "".join(parts)


def segments_of(message: Any) -> list[Segment] | None:
    """The segments of an event's ``message`` in either format; None when it is neither."""
    if isinstance(message, str):
        return parse(message)
    if isinstance(message, list) and all(isinstance(s, dict) and isinstance(s.get("type"), str) for s in message):
        return [{"type": s["type"], "data": s.get("data") if isinstance(s.get("data"), dict) else {}}
                for s in message]
    return None


def with_mentions(text: str, mentions: list[tuple[str, set[str]]]) -> tuple[list[Segment], list[str]]:
    """``text`` with each mention's ``@name`` replaced by an at segment, in order, and the
    mentions whose name was not found.

    ``mentions`` holds (qq, names it may appear under). A mention whose name is
    not found after the previous one is appended at the end, so it still
    reaches the member.
    """
    out: list[Segment] = []
    pos = 0
    missing: list[str] = []
    for qq, names in mentions:
        best: tuple[int, int] | None = None  # (index, length): earliest, then longest
        for name in names:
            if not name:
                continue
            i = text.find("@" + name, pos)
            if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(name) + 1 > best[1])):
                best = (i, len(name) + 1)
        if best is None:
            missing.append(qq)
            continue
        if best[0] > pos:
            out.append(text_segment(text[pos:best[0]]))
        out.append(at_segment(qq))
        pos = best[0] + best[1]
    if pos < len(text):
        out.append(text_segment(text[pos:]))
    for qq in missing:
        out.append(text_segment(" "))
        out.append(at_segment(qq))
    return out, missing
