"""Range and consistency checks on the settings a config file sets: ratios between 0 and 1, positive
durations, ordered tiers, valid regular expressions, policies and escalation steps, known roles."""
from __future__ import annotations

import re
from typing import Any

from console.engine.config_problems import Context, KeyPath, dotted, hints_of, show, suggest
from console.engine.settings import (
    ActionSettings,
    ActivitySettings,
    AUTO_ACTIONS,
    AdSettings,
    AlertSettings,
    ChurnSettings,
    DemoSettings,
    EngineSettings,
    FloodSettings,
    OperatorSettings,
    ROLES,
    SilentGroupSettings,
    SilentMemberSettings,
    StoreSettings,
)
from console.engine.text import visible


_RATIO, _POSITIVE, _NON_NEGATIVE, _ANY = "ratio", "positive", "non-negative", "any"
LIMITS: dict[tuple[type, str], Any] = {
    (AdSettings, "threshold"): _RATIO,
    (AdSettings, "high_threshold"): _RATIO,
    (AdSettings, "newcomer_boost"): _RATIO,
    (AdSettings, "keyword_weight"): _RATIO,
    (AdSettings, "regex_weight"): _RATIO,
    (AdSettings, "repeat_window_s"): _POSITIVE,
    (AdSettings, "repeat_groups"): 2,
    (AdSettings, "qr_weight"): _RATIO,
    (AdSettings, "image_timeout_s"): _POSITIVE,
    (AdSettings, "image_max_bytes"): 1,
    (FloodSettings, "max_messages"): 1,
    (FloodSettings, "window_s"): _POSITIVE,
    (SilentMemberSettings, "days"): _POSITIVE,
    (SilentMemberSettings, "min_list_change"): 1,
    (SilentGroupSettings, "hours"): _POSITIVE,
    (ChurnSettings, "window_hours"): _POSITIVE,
    (ChurnSettings, "factor"): _POSITIVE,
    (ChurnSettings, "min_leaves"): 1,
    (ChurnSettings, "baseline_days"): _POSITIVE,
    (ChurnSettings, "prior_daily_exit_rate"): _RATIO,
    (ChurnSettings, "fleet_min_leaves"): 1,
    (ActivitySettings, "window_days"): _POSITIVE,
    (ActivitySettings, "high"): _RATIO,
    (ActivitySettings, "ordinary"): _RATIO,
    (ActivitySettings, "critical"): _RATIO,
    (AlertSettings, "max_open"): 100,
    (AlertSettings, "churn_ads_hours"): _POSITIVE,
    (StoreSettings, "checkpoint_seconds"): _POSITIVE,
    (EngineSettings, "tick_seconds"): _POSITIVE,
    (EngineSettings, "backoff_start"): _POSITIVE,
    (EngineSettings, "backoff_max"): _POSITIVE,
    (DemoSettings, "groups"): 1,
    (DemoSettings, "seed"): _ANY,
    (DemoSettings, "speed"): _POSITIVE,
}
# Any other int or float field: counts and durations, which must not be negative.

# Upper bounds, the same as the command line's (--groups, --speed) and a demo [[connector]] table's: a
# bigger simulated fleet would take the memory of the machine before the first screen.
MOST: dict[tuple[type, str], float] = {(DemoSettings, "groups"): 2000, (DemoSettings, "speed"): 100000}

NON_EMPTY_ITEMS = {(AdSettings, "keywords"), (AdSettings, "regexes"), (AdSettings, "allow"),
                    (AdSettings, "allow_members")}


def check_values(obj: Any, path: KeyPath, ctx: Context, given: set[str], raw: dict) -> None:
    """Range checks on the fields set in the file (``raw`` has the values as written)."""
    cls = type(obj)
    hints = hints_of(cls)
    for name in given:
        value = getattr(obj, name)
        p = path + (name,)
        tp = hints[name]
        if tp in (int, float):
            _check_number(value, raw.get(name, value), LIMITS.get((cls, name), _NON_NEGATIVE), p, ctx)
            most = MOST.get((cls, name))
            if most is not None and value > most:
                ctx.error(p, f"{dotted(p)} must be at most {most:g}, got {show(raw.get(name, value), p)}")
        elif (cls, name) in NON_EMPTY_ITEMS:
            for i, item in enumerate(value):
                if not item.strip():
                    ctx.error(p + (i,), f"{dotted(p + (i,))} must not be empty or blank")
    if cls is AdSettings:
        _check_ad(obj, path, ctx, given)
    elif cls is ActivitySettings:
        _check_tiers(obj, path, ctx, given)
    elif cls is OperatorSettings:
        _check_roles(obj, path, ctx, given)
    elif cls is ActionSettings and "escalation" in given:
        _check_escalation(obj.escalation, path + ("escalation",), ctx)
    elif cls is EngineSettings and {"backoff_start", "backoff_max"} & given \
            and 0 < obj.backoff_max < obj.backoff_start:
        key = "backoff_max" if "backoff_max" in given else "backoff_start"
        ctx.error(path + (key,), f"{dotted(path + ('backoff_max',))} ({obj.backoff_max:g}) must be at least "
                                 f"{dotted(path + ('backoff_start',))} ({obj.backoff_start:g})")


def _check_roles(ops: OperatorSettings, path: KeyPath, ctx: Context, given: set[str]) -> None:
    if "default" in given and ops.default not in ROLES:
        ctx.error(path + ("default",), f"{dotted(path + ('default',))} must be one of {', '.join(ROLES)}, "
                                       f"got {ops.default!r}"[:300])
    for member, name in ops.chat.items():
        p = path + ("chat", member)
        if ":" not in member or not member.split(":", 1)[1]:
            ctx.error(p, f"{dotted(p)}: a chat user is a platform-qualified id like \"matrix:@alice:server\" "
                         f"or \"telegram:12345\"")
        elif not name.strip():
            ctx.error(p, f"{dotted(p)} must name an operator (an [operators.users] name or an OS user)")
    for table in ("users", "groups"):
        for name, role in getattr(ops, table).items():
            p = path + (table, name)
            if role not in ROLES:
                ctx.error(p, f"{dotted(p)} must be one of {', '.join(ROLES)}, got {visible(repr(role), 40)}")


def _check_number(value: float, written: Any, limit: Any, path: KeyPath, ctx: Context) -> None:
    name, shown = dotted(path), show(written, path)
    if limit == _RATIO and not 0 <= value <= 1:
        ctx.error(path, f"{name} must be between 0 and 1, got {shown}")
    elif limit == _POSITIVE and not value > 0:
        ctx.error(path, f"{name} must be greater than 0, got {shown}")
    elif limit == _NON_NEGATIVE and value < 0:
        ctx.error(path, f"{name} must not be negative, got {shown}")
    elif isinstance(limit, int) and not isinstance(limit, bool) and value < limit:
        ctx.error(path, f"{name} must be at least {limit}, got {shown}")


def _check_ad(ad: AdSettings, path: KeyPath, ctx: Context, given: set[str]) -> None:
    if "auto_action" in given and ad.auto_action not in AUTO_ACTIONS:
        p = path + ("auto_action",)
        ctx.error(p, f"{dotted(p)} must be one of {', '.join(AUTO_ACTIONS)}, got {show(ad.auto_action, p)}"
                     f"{suggest(str(ad.auto_action), list(AUTO_ACTIONS))}")
    if "regexes" in given:
        for i, pattern in enumerate(ad.regexes):
            try:
                re.compile(pattern)
            except re.error as e:
                p = path + ("regexes", i)
                where = f" at position {e.pos}" if e.pos is not None else ""
                ctx.error(p, f"{dotted(p)} is not a valid regular expression: {show(pattern, p)}: "
                             f"{e.msg}{where}")
    if {"policy", "policies"} & given:
        from console.engine.detectors.ad_policy import PolicyError, parse_policy

        specs = ([(path + ("policy",), ad.policy)] if "policy" in given else []) + \
            [(path + ("policies", k), v) for k, v in ad.policies.items()]
        for p, spec in specs:
            if p[-2] == "policies" and p[-1].replace(" ", "") in ("", "tag:"):
                ctx.error(p, f"{dotted(p)}: an empty group id or tag")
                continue
            try:
                parse_policy(spec)
            except PolicyError as e:
                ctx.error(p, f"{dotted(p)}: {e}")
    if ({"threshold", "high_threshold"} & given) and ad.high_threshold < ad.threshold \
            and 0 <= ad.threshold <= 1 and 0 <= ad.high_threshold <= 1:
        key = "high_threshold" if "high_threshold" in given else "threshold"
        ctx.error(path + (key,), f"{dotted(path + ('high_threshold',))} ({ad.high_threshold:g}) must be at least "
                                 f"{dotted(path + ('threshold',))} ({ad.threshold:g})")


def _check_escalation(steps: list[str], path: KeyPath, ctx: Context) -> None:
    """The steps as the warnings module reads them: refused here, at their line, rather than when the
    console starts (with no line) or never by ``config check``."""
    from console.engine.actions.model import ActionError
    from console.engine.actions.warnings import parse_policy

    bad = False
    for i, step in enumerate(steps):
        try:
            parse_policy([step])
        except ActionError as e:
            ctx.error(path + (i,), f"{dotted(path + (i,))}: {e}")
            bad = True
    if not bad:
        try:
            parse_policy(steps)
        except ActionError as e:
            ctx.error(path, f"{dotted(path)}: {e}")


def _check_tiers(act: ActivitySettings, path: KeyPath, ctx: Context, given: set[str]) -> None:
    tiers = {"critical": act.critical, "ordinary": act.ordinary, "high": act.high}
    if not all(0 <= v <= 1 for v in tiers.values()) or not {"critical", "ordinary", "high"} & given:
        return
    if act.critical < act.ordinary < act.high:
        return
    # Point at the key that was set (the later one in the file if both were).
    pair = ("critical", "ordinary") if act.critical >= act.ordinary else ("ordinary", "high")
    set_keys = [k for k in pair if k in given] or [k for k in tiers if k in given]
    key = max(set_keys, key=lambda k: ctx.line_of(path + (k,)) or 0)
    ctx.error(path + (key,), f"{dotted(path)} tiers must be ordered critical < ordinary < high, got "
                             f"critical = {act.critical:g}, ordinary = {act.ordinary:g}, high = {act.high:g}")


