"""The bytes of a state file: ASCII JSON of {table: {doc id: document}}, and the check on reading one back.

Files hold the bytes of ``json.dumps(state, ensure_ascii=True)`` (pure ASCII),
so any Python ``str``, including lone surrogates that UTF-8 cannot encode,
survives. (ASCII JSON cannot tell a high+low surrogate pair written as two
separate code points from the character they form; nothing decoded from UTF-8
or JSON, which is all a connector produces, can hold such a pair.)
"""
from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

__all__ = ["decode_state", "encode_doc", "encode_state"]


def encode_state(data: Any) -> bytes:
    """The JSON bytes for ``data``: ``json.dumps(data, ensure_ascii=True)``, compact.

    ASCII because strings from strangers may hold lone surrogates, which UTF-8
    cannot encode. (A str holding a high and a low surrogate as two separate code
    points reads back as the one character they form; nothing decoded from UTF-8
    or JSON, which is all a connector produces, can hold such a pair.)

    A database ({table: {doc id: doc}}) is encoded one document at a time, with
    the same bytes as one dump: a fleet's state is tens of MB, and one C-level
    dump holds the GIL for the whole of it, stalling the console even when the
    checkpoint runs in a thread.
    """
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        return _ENCODE(data).encode("ascii")
    parts = []
    for name, table in data.items():
        docs = ",".join(f"{_ENCODE(_key(k))}:{_ENCODE(doc)}" for k, doc in table.items())
        parts.append(f"{_ENCODE(_key(name))}:{{{docs}}}")
    return ("{" + ",".join(parts) + "}").encode("ascii")


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False).encode


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"keys must be str or int, not {type(k).__name__}")
    return str(k)


def decode_state(raw: bytes) -> dict:
    """Parse and check a state file's bytes; ValueError says what is wrong."""
    if not raw.strip():
        raise ValueError("the file is empty (truncated?)")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object of tables, found {type(data).__name__}")
    for table, docs in data.items():
        if not isinstance(docs, dict):
            raise ValueError(f"table {table!r} is not a JSON object")
        for doc_id, doc in docs.items():
            if not isinstance(doc, dict):
                raise ValueError(f"document {doc_id!r} in table {table!r} is not a JSON object")
    return data


def _not_json(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


# The C encoder ``_ENCODE`` builds for every call, built once: a checkpoint encodes documents by the
# thousand, and that construction was a third of the cost of a small one.
_C_ENCODE = c_make_encoder(None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, True) \
    if c_make_encoder is not None else None


def encode_doc(doc: Any) -> str:
    """One document (or any JSON value) as compact ASCII JSON text: the same text as ``_ENCODE``."""
    if _C_ENCODE is None:
        return _ENCODE(doc)
    return "".join(_C_ENCODE(doc, 0))
