"""Typed settings: every threshold and list the engine uses, with its default.

The TOML loader (``console.engine.config``) maps a file onto these dataclasses;
the field docstrings below are the reference for each key.
"""
from __future__ import annotations

from dataclasses import dataclass, field


AUTO_ACTIONS = ("off", "delete", "kick", "delete+kick")


@dataclass(slots=True)
class AdSettings:
    enabled: bool = True
    threshold: float = 0.7
    """Score (0-1) at or above which a message raises an ``ad`` alert (the alert threshold)."""
    high_threshold: float = 0.9
    """Score at or above which the alert is high severity."""
    model_weight: float = 1.0
    """How much the learned model corrects the rules' score: 0 turns the model off (rules only),
    1 uses it as trained. It learns from your verdicts: warn or blacklist from an ad alert = ad,
    "not an ad" = not an ad."""
    model_train_files: list[str] = field(default_factory=list)
    """Labelled JSONL files (one {"label": "spam"|"ham", "text": "..."} per line) to train a base
    model from at the first start, and again when one of them changes. None are shipped."""
    auto_action: str = "off"  # one of AUTO_ACTIONS
    """What to do unasked with a message scoring at least ``auto_action_threshold``: "off",
    "delete" (the message), "kick" (the sender, from that group) or "delete+kick"."""
    auto_action_threshold: float = 0.97
    """Score at or above which ``auto_action`` runs (automatic actions never teach the model)."""
    weak_ham_rate: float = 0.02
    """Share of unflagged messages from established members (not newcomers, at least 20
    messages seen) in groups without an ad alert for a day that the model learns as a weak
    "not an ad" (0: never). Weak lessons are not saved."""
    newcomer_boost: float = 0.15
    """Added to the score of a member's first messages after joining."""
    newcomer_messages: int = 3
    """How many first messages count as a newcomer's."""
    newcomer_hours: float = 72.0
    """A member who joined within this many hours is a newcomer."""
    repeat_window_s: float = 900.0
    """Same or near-same text in several groups within this window is a cross-group repeat."""
    repeat_groups: int = 3
    """Number of distinct groups that makes a repeat."""
    repeat_min_chars: int = 8
    """Shorter texts ("hi", "哈哈哈") never count as repeats."""
    repeat_weight: float = 0.75
    """Weight of a cross-group repeat (above the default threshold on its own)."""
    repeat_alone_min_chars: int = 40
    """A repeat with no other evidence counts only from a newcomer or for texts at
    least this long: everyday lines ("这个报错谁遇到过", "does anyone know how to
    fix this?") recur across groups by chance."""
    keywords: list[str] = field(default_factory=list)
    """Extra keywords (matched after normalisation), each adding ``keyword_weight``."""
    keyword_weight: float = 0.5
    regexes: list[str] = field(default_factory=list)
    """Extra regular expressions (matched against the normalised text)."""
    regex_weight: float = 0.6
    allow: list[str] = field(default_factory=list)
    """Substrings (e.g. your own domain or group number) that are never ad evidence."""
    allow_members: list[str] = field(default_factory=list)
    """Platform-qualified member ids never flagged (your admins and bots)."""
    policy: str = "default"
    """Every group's policy: "default", "no_commerce" (buying, selling, renting, prices, recruiting to
    other groups, referral/share codes are ads), "no_links", "strict_newcomers" (a newcomer's first
    messages with a contact, link, card or image are held for review); combine with "+"."""
    policies: dict[str, str] = field(default_factory=dict)
    """Per group id or "tag:NAME": that group's policy (a group's own entry wins over its tags')."""
    scan_images: bool = True
    """Download images in messages (through the connector, never blocking the event stream) and look
    for QR codes in them, on this machine."""
    image_max_bytes: int = 5_000_000
    """Images bigger than this are not downloaded ("image not checked: too large")."""
    image_timeout_s: float = 10.0
    """A download taking longer is given up ("image not checked: download timed out")."""
    qr_weight: float = 0.9
    """Weight of a QR code that opens a WeChat/QQ contact, group or payment (over the threshold alone)."""


@dataclass(slots=True)
class FloodSettings:
    enabled: bool = True
    max_messages: int = 8
    """More than this many messages from one member..."""
    window_s: float = 60.0
    """...within this many seconds is a flood."""


@dataclass(slots=True)
class SilentMemberSettings:
    enabled: bool = True
    days: float = 14.0
    """A member with no message for this many days is silent."""
    per_member: bool = False
    """One alert per silent member instead of one per group listing them."""
    min_list_change: int = 1
    """Update the group's alert only when the list changes by at least this many."""


@dataclass(slots=True)
class SilentGroupSettings:
    enabled: bool = True
    hours: float = 24.0
    """A group with no message for this many hours is silent."""
    min_daily_messages: int = 3
    """Fewer messages than this in the last 24 h (once watched for a day) is a zombie group."""


@dataclass(slots=True)
class ChurnSettings:
    enabled: bool = True
    window_hours: float = 1.0
    """Leaves are counted over this trailing window."""
    factor: float = 4.0
    """A spike is at least this many times the group's baseline for the window..."""
    min_leaves: int = 4
    """...and at least this many leaves, so one leave in a tiny group is no spike."""
    baseline_days: float = 7.0
    """The baseline is the group's own voluntary-leave rate over this many days."""
    prior_daily_exit_rate: float = 0.005
    """Until a group has history, assume this share of members leave per day."""
    prior_hours: float = 24.0
    """Weight of that assumption, in hours of observation."""
    fleet_min_leaves: int = 12
    """Minimum leaves across all groups for a fleet-wide spike."""


@dataclass(slots=True)
class ActivitySettings:
    window_days: float = 7.0
    """Active-member ratio: share of members who spoke in this many days."""
    high: float = 0.40
    ordinary: float = 0.20
    critical: float = 0.10


@dataclass(slots=True)
class DetectorSettings:
    ad: AdSettings = field(default_factory=AdSettings)
    flood: FloodSettings = field(default_factory=FloodSettings)
    silent_member: SilentMemberSettings = field(default_factory=SilentMemberSettings)
    silent_group: SilentGroupSettings = field(default_factory=SilentGroupSettings)
    churn_spike: ChurnSettings = field(default_factory=ChurnSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)


@dataclass(slots=True)
class AlertSettings:
    """The alert queue's life and bounds, and how alerts fold into incidents."""
    expire_hours: float = 72.0
    """Unattended low and medium alerts (nobody acknowledged, snoozed, claimed or acted on them) end as
    "expired" this many hours after they were last seen (0: never). High alerts wait for someone."""
    max_open: int = 4000
    """At most this many alerts open at once: beyond it the oldest low ones expire first (then medium, then
    high; unattended ones before those someone took), so memory stays flat however long nobody looks. Their
    incidents carry on with the alerts left."""
    keep_history: int = 2000
    """Ended (resolved or expired) alerts and incidents kept, and saved, for the history."""
    churn_ads_hours: float = 2.0
    """A churn spike folds with the group's ad alerts of this many hours before it (one incident)."""


@dataclass(slots=True)
class StoreSettings:
    checkpoint_seconds: float = 2.0
    """Wall seconds between state writes; the hot path never writes per event. A write costs what
    changed since the last one (and holds the event loop for that long), so frequent is cheap."""
    recent_messages: int = 50
    """Messages kept per group for the feed and evidence."""


@dataclass(slots=True)
class EngineSettings:
    tick_seconds: float = 60.0
    """Engine-clock seconds between evaluations of time-based detectors."""
    poll_timeout: float = 25.0
    """Long-poll wait handed to connectors, in seconds."""
    backoff_start: float = 1.0
    """Seconds to wait after a connector's first failed poll (with jitter); doubled on each further failure..."""
    backoff_max: float = 60.0
    """...up to this many seconds. A successful poll starts over."""


@dataclass(slots=True)
class ActionSettings:
    read_only: bool = False
    """Refuse every action (watchers' consoles)."""
    warn_window_days: float = 30.0
    """Warnings count per member, across groups, within this sliding window."""
    escalation: list[str] = field(default_factory=lambda: ["2:mute:1d", "3:blacklist"])
    """Steps "COUNT:ACTION[:DURATION]": at the COUNTth warning in the window, mute (for DURATION),
    kick, or blacklist. The warning itself is always posted."""
    mention_days: float = 0.0
    """Mention members silent for at least this many days (0: the silent_member detector's days)."""
    mention_cooldown_days: float = 7.0
    """Never mention the same member again within this many days."""
    mention_batch: int = 0
    """Mentions per message (0: the platform's own limit)."""
    mention_text: str = "{mentions} 好久不见，最近在忙什么？来群里聊聊吧 / long time no see, come say hi!"
    """Template of a mention message; {mentions} becomes the @-mentions, {group} the group name."""
    reactivation_days: float = 3.0
    """A mentioned member who speaks within this many days counts as reactivated."""
    welcome_groups: list[str] = field(default_factory=list)
    """Groups that welcome newcomers with the rules: group ids, "tag:<tag>", or "all"."""
    welcome_text: str = "{mention} 欢迎加入 {group}！/ Welcome to {group}! {rules}"
    """Template of the welcome message; {mention}, {group}, {rules}."""
    cleanup_min_messages: int = 3
    """The monthly clean-up proposes members with fewer messages than this..."""
    cleanup_days: float = 30.0
    """...in this many days (members who joined more recently are spared)."""


@dataclass(slots=True)
class DemoSettings:
    groups: int = 40
    seed: int = 7
    speed: float = 60.0
    """Simulated seconds per wall second."""


@dataclass(slots=True)
class ConnectorSettings:
    """One ``[[connector]]`` table; platform-specific keys go in ``options``."""

    type: str
    name: str = ""
    options: dict[str, object] = field(default_factory=dict)
    source: str = field(default="", compare=False, repr=False)
    """The config file the table is in, for error messages."""
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    """Line of the table (key "") and of each of its keys in ``source``."""


ROLES = ("viewer", "moderator", "admin")


@dataclass(slots=True)
class OperatorSettings:
    """Who may do what through the service. Identity is the OS user of the peer on the service's
    socket (no passwords): a Unix group that may open the socket is the moderation team."""
    default: str = "moderator"
    """Role of any other user who can open the socket: viewer, moderator or admin."""
    users: dict[str, str] = field(default_factory=dict)
    """OS user name -> role."""
    groups: dict[str, str] = field(default_factory=dict)
    """Unix group name -> role (a user in several gets the highest)."""
    chat: dict[str, str] = field(default_factory=dict)
    """Platform user id ("matrix:@alice:server") -> operator name: who acts when they reply in a
    route's moderators' chat (their role is that operator's, from users/groups/default)."""


@dataclass(slots=True)
class Settings:
    operator: str = ""
    """Your name in the audit log (default: the OS user)."""
    rules: str = "Please keep this group free of ads and spam. Repeat offenders are removed from all our groups."
    """Default rules text, used by warnings and welcome messages."""
    group_rules: dict[str, str] = field(default_factory=dict)
    """Per-group rules text: group id -> text."""
    detectors: DetectorSettings = field(default_factory=DetectorSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    operators: OperatorSettings = field(default_factory=OperatorSettings)
    connectors: list[ConnectorSettings] = field(default_factory=list)
    routes: list = field(default_factory=list)
    """``[[route]]`` tables: console.oncall.routes.Route (parsed there)."""

    @property
    def is_demo(self) -> bool:
        return not self.connectors

    def rules_for(self, group_id: str) -> str:
        return self.group_rules.get(group_id, self.rules)
