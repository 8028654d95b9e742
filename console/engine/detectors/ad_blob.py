"""The trained base as bytes (for the store): its n-grams, float32 weights, bias and trust in the rules.

The local weights are not in it: they are rebuilt from the verdict log (see
:class:`~console.engine.detectors.ad_learning.AdLearning`).
"""
from __future__ import annotations

import json
import sys
import zlib
from array import array
from typing import TYPE_CHECKING

from console.engine.detectors.ad_weights import Table

if TYPE_CHECKING:
    from console.engine.detectors.ad_model import AdModel
    from console.engine.detectors.ad_text import AdRules

FORMAT = 1
"""Version of the features and of the blob layout; a stored base of another version is retrained."""

MAGIC = b"GWADM1\n"


class ModelFileError(Exception):
    """A model blob that cannot be read; ``str(e)`` is one line."""


def model_to_bytes(model: "AdModel") -> bytes:
    """The shared weights as a compact blob."""
    items = list(model.shared.w.items())
    weights = array("f", (v for _, v in items))
    if sys.byteorder == "big":
        weights.byteswap()
    grams = "\x00".join(t for t, _ in items).encode("utf-8", "surrogatepass")
    header = dict(model.info)
    header.update({"format": FORMAT, "bias": model.shared.bias, "rules_scale": model.rules_scale, "n": len(items),
                   "grams_bytes": len(grams)})
    body = json.dumps(header, ensure_ascii=True).encode("ascii") + b"\n" + grams + weights.tobytes()
    return MAGIC + zlib.compress(body, 6)



def model_from_bytes(cls: "type[AdModel]", blob: bytes, rules: "AdRules | None" = None) -> "AdModel":
    if not blob.startswith(MAGIC):
        raise ModelFileError("not a groupwatch ad model (bad header)")
    try:
        body = zlib.decompress(blob[len(MAGIC):])
        head, _, rest = body.partition(b"\n")
        header = json.loads(head)
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
        if header.get("format") != FORMAT:
            raise ModelFileError(f"model format {header.get('format')!r}, this version reads {FORMAT}")
        n, nb = int(header["n"]), int(header["grams_bytes"])
        grams = rest[:nb].decode("utf-8", "surrogatepass").split("\x00") if n else []
        weights = array("f")
        weights.frombytes(rest[nb:])
        if sys.byteorder == "big":
            weights.byteswap()
        if len(grams) != n or len(weights) != n:
            raise ValueError(f"expected {n} weights, found {len(grams)} n-grams and {len(weights)} weights")
        bias = float(header["bias"])
        trust = float(header.get("rules_scale", 0.0))  # absent in blobs written before it existed
        if not -1.0 < trust <= 1.0:
            raise ValueError(f"rules_scale {trust} out of range")
    except ModelFileError:
        raise
    except (zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"damaged model data ({' '.join(str(e).split()) or type(e).__name__})") from None
    info = {k: v for k, v in header.items() if k not in ("format", "bias", "rules_scale", "n", "grams_bytes")}
    model = cls(Table(dict(zip(grams, weights)), bias), rules, info=info)
    model.rules_scale = trust
    return model


