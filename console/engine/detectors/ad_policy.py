"""Group policies for the ``ad`` detector: what counts as an ad differs per community.

A policy is a set of presets, written ``"no_commerce+strict_newcomers"``:

* ``default``: the rules and the model as they are.
* ``no_commerce`` (禁商): any buying, selling, renting, price talk, recruiting to other
  groups/servers and referral or share codes is an ad. Gaming and campus QQ groups sell
  accounts, cheats, in-game items and VPN access in their own slang ("出个满级号 30r",
  "收永久会员 私聊", "谁有加速器卖"): a price in yuan is "r"/"R"/"块", and none of
  those words is an ad in a group that allows trade.
* ``no_links``: any link (also a spelled-out or invite link, a link card) is an ad.
* ``strict_newcomers``: a newcomer's first messages with any contact, link, card or image
  are held for review (flagged), whatever their score.

The policy's findings are signals like the rules' own, named after the preset
("no_commerce: selling + price"), so the operator sees why a message that would be fine
elsewhere was flagged here. Everything is precompiled once, linear regexes over the
rules' normalised text (lower case, full-width folded, look-alikes undone).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from console.engine.detectors.ad_text import Analysis, noisy_or

PRESETS = ("default", "no_commerce", "no_links", "strict_newcomers")

# Weights of one commerce kind in a no_commerce group. A transaction (selling, buying, renting)
# is over the default alert threshold (0.7) on its own; price talk alone is not ("这皮肤多少钱"
# may be a question about the shop), but with anything else it is.
COMMERCE_WEIGHTS = {"selling": 0.75, "buying": 0.72, "renting": 0.75, "recruiting": 0.8, "share code": 0.85,
                    "price": 0.45, "goods": 0.0}
NO_LINKS_WEIGHT = 0.85
NEWCOMER_HOLD_WEIGHT = 0.9

# What is traded in these groups: accounts, cheats, game currency and items, VPN access, memberships.
_GOODS_ZH = ("账号|帐号|号|皮肤|外挂|辅助|科技|脚本|透视|自瞄|加速器|vpn|梯子|机场|节点|会员|永久|svip|vip|月卡|"
             "点券|钻石|元宝|金币|金条|装备|代练|满级|成品|小号|白号|cdk|激活码|兑换码|卡密|steam|switch|ns|"
             "手办|显卡|周边|门票|票|礼包|体力|材料|道具|坐骑|宠物|时装|英雄|角色|烟|电子烟|vape")
_GOODS_EN = ("accounts?|accs?|skins?|cheats?|hacks?|aimbot|vpn|gold|coins?|items?|boost(?:ing)?|carry|keys?|"
             "gift ?cards?|nitro|premium|subscriptions?|tickets?|followers|likes")
_STOP = r"[^，。,.!?！？\s\n]"  # within one clause

_ZH_NUM = "[一二三四五六七八九十两百千万]"
_PRICE = re.compile(
    # 30r, 30R (norm is lower case), 25块, 50元, 3w, 1.5k, ¥30, 三十块 (a numeral with 十/百/千 or 块钱),
    r"(?<![a-z0-9.])[0-9]+(?:\.[0-9]+)?\s?(?:r|rmb|元|块|米|大洋|软妹币|w|k|刀|yuan|bucks|dollars|usd)(?![a-z])"
    rf"|[¥$£€]\s?[0-9]|(?:{_ZH_NUM}*[十百千万]{_ZH_NUM}*|{_ZH_NUM}+(?=块钱))(?:块|元)"
    r"|多少钱|价格|价钱|报价|几块|便宜出|白菜价|包邮|可刀|私聊价|价格美丽|原价|出价|一口价|\bprice\b|\bcheap\b|"
    r"\bpaypal\b|\bvenmo\b|\bcash ?app\b"
)
_SELL = re.compile(
    "出售|转让|甩卖|清仓|低价出|便宜出|亏本出|出闲置|出一手|有人要吗|有要的吗|有没有人要|要的私|要的来|需要的私|谁要|"
    "卖号|卖个|卖一个|卖掉|要卖|卖了|卖给|代练|代打|代肝|代刷|代充|代挂"
    # 出 + what is traded within the clause ("出个满级号", "出vape"), not 出来/出去/出门/出问题...
    rf"|出(?![来去门现发生差国院场色口问错事手]){_STOP}{{0,6}}?(?:{_GOODS_ZH})|出(?!bug)[a-z]{{2,}}"
    r"|\bwts\b|\bfor sale\b|\bselling\b|\bsell(?:ing)? (?:my|an?|some|cheap)\b|\b(?:dm|pm) (?:me )?for (?:price|info)\b"
    rf"|\bsell(?:s|ing)? (?:{_GOODS_EN})\b"
)
_BUY = re.compile(
    "求购|收购|高价收|回收|求出|蹲一个|蹲个|想买|买个|买一个|哪里能买|哪里可以买|哪里买|哪有卖|"
    rf"谁有{_STOP}{{0,8}}?卖|有没有{_STOP}{{0,8}}?卖|有{_STOP}{{0,8}}?卖吗|"
    rf"收(?![到拾藏入获费益听看回起好下尾割集])(?:个|一个|几个)?{_STOP}{{0,6}}?(?:{_GOODS_ZH})|收(?!bug)[a-z]{{2,}}|"
    rf"求{_STOP}{{0,6}}?(?:{_GOODS_ZH})"
    r"|\bwtb\b|\bbuying\b|\bwant to buy\b|\blooking to buy\b|\bwho sells\b|\banyone selling\b|\bwhere (?:can i|to) buy\b"
    rf"|\bbuy(?:s|ing)? (?:{_GOODS_EN})\b"
)
_RENT = re.compile(r"出租|租号|租个|租一个|求租|租借|有偿借|租用|包月|月租|\bfor rent\b|\brenting\b|\brent (?:my|out|an?)\b")
_RECRUIT = re.compile(
    r"加群|进群|来群|入群|拉群|我的群|我们群|新群|群号|q群|qq群|扣群|开服|新服|私服|进服|来服|拉人|招人|招募|招收|"
    r"服务器(?:ip|地址|号)|\bjoin (?:my|our|the) (?:server|discord|group|guild|clan|channel)\b|discord\.gg|"
    r"discord\.com/invite"
)
_SHARE = re.compile(
    r"邀请码|推荐码|推广码|分享码|淘口令|口令|复制(?:这条|此条|整段|本条)|"
    r"打开(?:手机)?(?:淘宝|拼多多|京东|抖音|闲鱼|美团|支付宝|快手|饿了么)|砍一刀|帮我砍|助力|"
    r"[¥$€]\s?[a-z0-9]{8,}\s?[¥$€]|[0-9]\.[0-9]{1,2}\s?[a-z0-9]{2,}:/|"
    r"\breferral\b|\bref (?:code|link)\b|\binvite code\b|\bpromo code\b|\bcoupon code\b|\buse (?:my )?code\b|"
    r"\baffiliate\b|[?&]ref="
)
_KINDS = (("selling", _SELL), ("buying", _BUY), ("renting", _RENT), ("recruiting", _RECRUIT),
          ("share code", _SHARE), ("price", _PRICE))

# What the rules and the connectors leave in a message for a contact, a link, a card or an image.
_LINK_REASONS = ("link ", "invite link ", "link with the dot spelled out")
_CONTACT_REASONS = ("contact id ", "contact number ", "phone number ", "WeChat-style id ", "id-like code ",
                    "contact label ", "contact words", "handle ", "QR code")
_CARD = re.compile(r"\[(?:card|contact|link|group invite|mini-program)\b")
_IMAGE = re.compile(r"\[(?:image|qr|sticker|photo)\b")


def commerce_kinds(norm: str) -> list[str]:
    """The kinds of commerce talk in a normalised text, in a fixed order ("selling", "price", ...)."""
    return [kind for kind, rx in _KINDS if rx.search(norm) is not None]


class PolicyError(ValueError):
    """An unknown preset; the message is one line."""


@dataclass(slots=True, frozen=True)
class Policy:
    """One group's presets (``default`` alone: nothing to add)."""

    commerce: bool = False
    links: bool = False
    newcomers: bool = False

    @property
    def name(self) -> str:
        names = [n for n, on in (("no_commerce", self.commerce), ("no_links", self.links),
                                 ("strict_newcomers", self.newcomers)) if on]
        return "+".join(names) or "default"

    @property
    def active(self) -> bool:
        """Something to add to the content score (strict_newcomers acts on context, in the detector)."""
        return self.commerce or self.links

    def __or__(self, other: "Policy") -> "Policy":
        return Policy(self.commerce or other.commerce, self.links or other.links, self.newcomers or other.newcomers)

    def signals(self, a: Analysis) -> list[tuple[str, float]]:
        """The policy's own signals on the rules' analysis of a message."""
        out: list[tuple[str, float]] = []
        if self.commerce:
            kinds = commerce_kinds(a.norm)
            if kinds:
                w = noisy_or(COMMERCE_WEIGHTS[k] for k in kinds)
                if len(kinds) > 1:  # selling + price, buying + recruiting: no chat about the shop does both
                    w = max(w, 0.9)
                out.append((f"no_commerce: {' + '.join(kinds)}", w))
        if self.links:
            link = next((r for r, _ in a.signals if r.startswith(_LINK_REASONS)), None)
            if link is not None:
                out.append((f"no_links: {link}", NO_LINKS_WEIGHT))
        return out

    def apply(self, a: Analysis) -> Analysis:
        """``a`` with the policy's signals added (and its score raised by them, noisy-or)."""
        extra = self.signals(a) if self.active else ()
        if not extra:
            return a
        signals = a.signals + extra
        return Analysis(a.norm, a.squeezed, noisy_or(w for _, w in signals), signals)

    def newcomer_hold(self, a: Analysis, text: str) -> str | None:
        """strict_newcomers: why a newcomer's message is held for review (None: it isn't)."""
        if not self.newcomers:
            return None
        if _CARD.search(text) is not None:
            what = "a card"
        elif _IMAGE.search(text) is not None:
            what = "an image"
        elif any(r.startswith(_LINK_REASONS) for r, _ in a.signals):
            what = "a link"
        elif any(r.startswith(_CONTACT_REASONS) for r, _ in a.signals):
            what = "a contact"
        else:
            return None
        return f"strict_newcomers: a newcomer's message with {what}, held for review"


DEFAULT = Policy()


def parse_policy(spec: str) -> Policy:
    """``"no_commerce+strict_newcomers"`` -> Policy; PolicyError (one line) for an unknown preset."""
    p = DEFAULT
    parts = [x.strip() for x in str(spec).split("+")]
    if not any(parts):
        raise PolicyError(f"empty policy; use one of {', '.join(PRESETS)} (combine with +)")
    for part in parts:
        if part == "no_commerce":
            p = p | Policy(commerce=True)
        elif part == "no_links":
            p = p | Policy(links=True)
        elif part == "strict_newcomers":
            p = p | Policy(newcomers=True)
        elif part != "default":
            import difflib

            close = difflib.get_close_matches(part, PRESETS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PolicyError(f"unknown policy {part!r}{hint}; use one of {', '.join(PRESETS)} (combine with +)")
    return p


class Policies:
    """Which policy each group has: ``policies`` maps a group id or ``"tag:NAME"`` to a spec;
    ``policy`` is every group's. A group's own entry wins; otherwise the presets of its tags
    and of ``policy`` add up."""

    def __init__(self, default: str = "default", policies: Mapping[str, str] | None = None) -> None:
        self.default = parse_policy(default)
        self.by_group: dict[str, Policy] = {}
        self.by_tag: dict[str, Policy] = {}
        for key, spec in (policies or {}).items():
            if key.startswith("tag:"):
                self.by_tag[key[4:]] = parse_policy(spec)
            else:
                self.by_group[key] = parse_policy(spec)
        self._cache: dict[tuple[str, tuple[str, ...]], Policy] = {}
        self.any_set = bool(self.by_group or self.by_tag or self.default != DEFAULT)

    def for_group(self, group: str, tags: Sequence[str] = ()) -> Policy:
        key = (group, tuple(tags))
        p = self._cache.get(key)
        if p is None:
            p = self.by_group.get(group)
            if p is None:
                p = self.default
                for t in tags:
                    p = p | self.by_tag.get(t, DEFAULT)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = p
        return p


__all__ = ["DEFAULT", "PRESETS", "Policies", "Policy", "PolicyError", "commerce_kinds", "parse_policy"]
