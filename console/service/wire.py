"""The api dataclasses as JSON-able values, for the socket between a service and its consoles.

A dataclass travels as ``{"$": "ClassName", field: value, ...}``; the enums (:class:`Role`,
:class:`Status`) travel as their values; lists, tuples and str-keyed dicts of these travel as
JSON arrays and objects. Decoding is strict because a frame may come from any local user:
an unknown class, an unknown or missing field or a value of the wrong basic type is a
:class:`ProtocolError` with a one-line reason, never a half-built object.

Every decoder is compiled once per class from its type hints, so a page of 2,000
:class:`GroupRow` costs one dict lookup and a few ``type() is`` checks per field (no
``asdict``, no deep copies).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Callable

from console.engine.text import visible
from console.service import api

MAX_DEPTH = 32
"""How deeply a frame may nest: the views need 4; a deeper frame is hostile, and refusing it here
keeps the decoder's recursion far below Python's limit."""

_DICT_TAG = "$dict"
"""A plain dict that happens to hold a "$" key travels wrapped, so it is never taken for a class."""


class ProtocolError(Exception):
    """A frame that is not what the protocol says (one line, safe to show and to log)."""


class ServiceUnavailable(Exception):
    """No service answers at a socket path, or it refused this console (one line)."""


class ProtocolMismatch(ServiceUnavailable):
    """The service speaks another protocol version (one line naming both)."""


class ServiceLost(api.ServiceError):
    """The connection to the service dropped while a call was waiting (one line). A ServiceError,
    so a screen that shows a failed query's one line shows this one too."""


Decoder = Callable[[Any, int], Any]


# --- the registry ----------------------------------------------------------------------------

def _api_classes() -> dict[str, type]:
    """Every dataclass defined in ``console.service.api``: adding a view there is all it takes."""
    return {name: obj for name, obj in vars(api).items()
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == api.__name__}


CLASSES: dict[str, type] = _api_classes()
ENUMS: tuple[type[enum.Enum], ...] = (api.Role, api.Status)


# --- encoding ----------------------------------------------------------------------------------

_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in CLASSES.values()}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def encode(value: Any) -> Any:
    """``value`` as plain JSON types; anything that is not api data is a :class:`ProtocolError`."""
    t = type(value)
    if t in _PLAIN:
        return value
    names = _FIELDS.get(t)
    if names is not None:
        out = {"$": t.__name__}
        for name in names:
            v = getattr(value, name)
            # most fields are plain: no call for them (a page of 2,000 rows is 32,000 fields)
            out[name] = v if type(v) in _PLAIN else encode(v)
        return out
    if t is list or t is tuple:
        return [v if type(v) in _PLAIN else encode(v) for v in value]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                # json.dumps would turn 1 into "1" silently; say so instead of changing a key's type
                raise ProtocolError(f"cannot send a dict key of type {type(k).__name__}")
            out[k] = encode(v)
        return {"$": _DICT_TAG, "value": out} if "$" in out else out
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if isinstance(value, str):  # a str subclass other than the enums
        return str(value)
    raise ProtocolError(f"cannot send a {t.__name__}")


# --- decoding ----------------------------------------------------------------------------------

def decode(value: Any, depth: int = 0) -> Any:
    """Any decoded JSON value back to api data; tagged objects become their dataclass."""
    t = type(value)
    if t in _PLAIN:
        return value
    if depth >= MAX_DEPTH:
        raise ProtocolError("nested too deeply")
    if t is list:
        return [decode(v, depth + 1) for v in value]
    if t is dict:
        tag = value.get("$")
        if tag is None and "$" not in value:
            return {k: decode(v, depth + 1) for k, v in value.items()}
        if tag == _DICT_TAG:
            inner = value.get("value")
            if len(value) != 2 or type(inner) is not dict:
                raise ProtocolError("malformed wrapped dict")
            return {k: decode(v, depth + 1) for k, v in inner.items()}
        if type(tag) is not str or tag not in CLASSES:
            raise ProtocolError(f"unknown type {visible(str(tag), 60)!s}")
        return _DECODERS[tag](value, depth)
    raise ProtocolError(f"unexpected {t.__name__}")


def check_plain(value: Any, depth: int = 0) -> None:
    """Raise unless ``value`` is plain JSON data. A request's params and targets never hold an api
    class: an ``Actor`` smuggled into them is refused here rather than trusted by a handler later."""
    t = type(value)
    if t is list:
        if depth >= MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        for v in value:
            check_plain(v, depth + 1)
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if "$" in value:
            if value["$"] != _DICT_TAG or type(value.get("value")) is not dict:
                raise ProtocolError(f"params and targets are plain data, not a {visible(str(value['$']), 40)}")
            value = value["value"]
        for v in value.values():
            check_plain(v, depth + 1)


def decode_as(cls: type, value: Any) -> Any:
    """``value`` decoded as exactly ``cls`` (an api dataclass), or a :class:`ProtocolError`."""
    return _DECODERS[cls.__name__](value, 0)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _scalar(*types_: type, what: str) -> Decoder:
    def check(v: Any, depth: int) -> Any:
        if type(v) in types_:
            return v
        raise ProtocolError(f"expected {what}, got {_type_name(v)}")
    check.types = frozenset(types_)  # type: ignore[attr-defined]  # decoders check these inline (_fast)
    return check


def _fast(decoder: Decoder) -> frozenset | None:
    """The JSON types a decoder passes through unchanged, when that is all it does (a string, an
    integer, a boolean; null too when optional): the class and list decoders test ``type(v) in``
    these inline instead of a call per value, the most of a page of 2,000 rows."""
    return getattr(decoder, "types", None)


def _float(v: Any, depth: int) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int:  # json writes 3.0 as 3.0, but a hand-made frame or another encoder may write 3
        try:
            return float(v)
        except OverflowError:
            raise ProtocolError("number too large") from None
    raise ProtocolError(f"expected a number, got {_type_name(v)}")


_float.types = frozenset({float})  # type: ignore[attr-defined]  # an int goes through _float: made a float


def _optional(inner: Decoder) -> Decoder:
    def check(v: Any, depth: int) -> Any:
        return None if v is None else inner(v, depth)
    if _fast(inner) is not None:
        check.types = _fast(inner) | {type(None)}  # type: ignore[attr-defined]
    return check


def _list_of(inner: Decoder) -> Decoder:
    plain = _fast(inner)

    def check(v: Any, depth: int) -> list:
        if type(v) is not list:
            raise ProtocolError(f"expected a list, got {_type_name(v)}")
        if depth >= MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if plain is not None:
            out = [x for x in v if type(x) in plain]
            if len(out) == len(v):
                return out
        return [inner(x, depth + 1) for x in v]  # a class, or a value of the wrong type (its error)
    return check


def _any_list(v: Any, depth: int) -> list:
    if type(v) is not list:
        raise ProtocolError(f"expected a list, got {_type_name(v)}")
    return decode(v, depth)


def _any_dict(v: Any, depth: int) -> dict:
    if type(v) is not dict:
        raise ProtocolError(f"expected an object, got {_type_name(v)}")
    if "$" in v and v["$"] != _DICT_TAG:
        raise ProtocolError("expected an object, got a tagged value")
    return decode(v, depth)


def _enum(cls: type[enum.Enum]) -> Decoder:
    values = {m.value: m for m in cls}

    def check(v: Any, depth: int) -> enum.Enum:
        member = values.get(v) if type(v) is str else None
        if member is None:
            raise ProtocolError(f"expected a {cls.__name__.lower()} ({', '.join(values)}), got {visible(repr(v), 40)}")
        return member
    return check


def _class_ref(name: str) -> Decoder:
    # resolved lazily: a view may refer to one defined after it
    def check(v: Any, depth: int) -> Any:
        return _DECODERS[name](v, depth)
    return check


def _for_hint(hint: Any) -> Decoder:
    if hint is str:
        return _scalar(str, what="a string")
    if hint is bool:
        return _scalar(bool, what="a boolean")
    if hint is int:
        return _scalar(int, what="an integer")  # type() is int: a boolean is not an integer here
    if hint is float:
        return _float
    if hint is list:
        return _any_list
    if hint is dict:
        return _any_dict
    if hint is Any or hint is object:
        return decode
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if isinstance(hint, type) and hint.__name__ in CLASSES:
        return _class_ref(hint.__name__)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return _optional(_for_hint(rest[0]))
    if origin is list and len(args) == 1:
        return _list_of(_for_hint(args[0]))
    if hint is tuple or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        items = _list_of(_for_hint(args[0]) if args else decode)
        return lambda v, depth: tuple(items(v, depth))  # a tuple travels as a list
    if origin is dict:
        return _any_dict
    raise TypeError(f"wire cannot decode the type {hint!r}")  # a developer's mistake in api.py: fail at import


def _class_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls, vars(api))
    fields = {f.name: _for_hint(hints[f.name]) for f in dataclasses.fields(cls)}
    required = frozenset(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    name = cls.__name__
    plain = {key: types_ for key, types_ in ((k, _fast(d)) for k, d in fields.items()) if types_ is not None}

    def check(v: Any, depth: int) -> Any:
        if type(v) is not dict or v.get("$") != name:
            got = f"a {visible(str(v.get('$')), 40)}" if type(v) is dict and "$" in v else _type_name(v)
            raise ProtocolError(f"expected a {name}, got {got}")
        if depth >= MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        kwargs = {}
        for key, value in v.items():
            ok = plain.get(key)
            if ok is not None and type(value) in ok:
                kwargs[key] = value
                continue
            if key == "$":
                continue
            field_decoder = fields.get(key)
            if field_decoder is None:
                raise ProtocolError(f"{name} has no field {visible(key, 40)}")
            try:
                kwargs[key] = field_decoder(value, depth + 1)
            except ProtocolError as e:
                raise ProtocolError(f"{name}.{key}: {e}") from None
        missing = required.difference(kwargs)
        if missing:
            raise ProtocolError(f"{name} lacks {', '.join(sorted(missing))}")
        return cls(**kwargs)
    return check


_DECODERS: dict[str, Decoder] = {name: _class_decoder(cls) for name, cls in CLASSES.items()}


# --- frames ------------------------------------------------------------------------------------

def _no_constant(name: str) -> float:
    raise ProtocolError(f"{name} is not a JSON number")


def dumps(message: dict) -> str:
    """A message (already holding encoded values) as one JSON text frame."""
    # ASCII: a stranger's text may hold a lone surrogate, which UTF-8 (a text frame) cannot carry;
    # as a \ud800 escape it travels and comes back exactly. NaN and infinities are written as
    # Python's json does; only the service side refuses them in what it reads (an engine fed
    # Infinity seconds is a crash waiting to happen).
    return json.dumps(message, ensure_ascii=True, separators=(",", ":"))


# Rows the views reuse, the same object, for as long as what they show is unchanged: each is
# encoded once however many consoles ask for it (twenty consoles refreshing a thousand groups a
# second would otherwise encode twenty thousand rows a second on the engine's loop). Safe because
# a view row is never changed after a view returned it: a change builds a new row.
CACHED_ROWS = frozenset({api.GroupRow, api.AlertView})
# Two generations, each of at most FRAGMENTS_KEPT rows: a row asked for again moves into the newer one;
# when it is full the older one is dropped, with the rows of past refreshes it alone kept alive. (One
# dict of 50,000 cleared when full held 50,000 dead rows and their texts at its peak: some 50 MB.)
FRAGMENTS_KEPT = 6000  # a refresh of 2,000 groups and a screen of alerts fits in one generation
_FRAGMENTS: dict[int, tuple[object, str]] = {}
_OLDER: dict[int, tuple[object, str]] = {}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _cached(value: Any) -> str:
    global _FRAGMENTS, _OLDER
    key = id(value)
    hit = _FRAGMENTS.get(key)
    if hit is not None and hit[0] is value:
        return hit[1]
    hit = _OLDER.get(key)
    text = hit[1] if hit is not None and hit[0] is value else _json(encode(value))
    if len(_FRAGMENTS) >= FRAGMENTS_KEPT:
        _OLDER, _FRAGMENTS = _FRAGMENTS, {}
    _FRAGMENTS[key] = (value, text)
    return text


def to_json(value: Any) -> str:
    """``encode`` then ``dumps`` in one, reusing the text of rows sent before."""
    t = type(value)
    if t in CACHED_ROWS:
        return _cached(value)
    if t is list:
        return "[" + ",".join(to_json(v) for v in value) + "]"
    names = _FIELDS.get(t)
    if names is not None:
        return '{"$":' + _json(t.__name__) + "".join("," + _json(n) + ":" + to_json(getattr(value, n))
                                                     for n in names) + "}"
    return _json(encode(value))


def answer_frame(rid: int, result: Any) -> str:
    """The frame answering request ``rid`` (the same text as ``dumps({"id": rid, "result": encode(result)})``)."""
    return '{"id":' + _json(rid) + ',"result":' + to_json(result) + "}"


def loads(text: str | bytes, *, allow_nan: bool = False) -> dict:
    """One frame as a JSON object, or a :class:`ProtocolError` saying why not."""
    if not isinstance(text, str):
        raise ProtocolError("frames are JSON text, not binary")
    try:
        msg = json.loads(text, parse_constant=(lambda c: float(c)) if allow_nan else _no_constant)
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and ints longer than Python converts
        raise ProtocolError(f"not JSON: {visible(str(e).splitlines()[0] if str(e) else 'invalid', 120)}") from None
    if type(msg) is not dict:
        raise ProtocolError(f"expected a JSON object, got {_type_name(msg)}")
    return msg
