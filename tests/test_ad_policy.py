"""Group policies of the ``ad`` detector: no_commerce, no_links, strict_newcomers, per group or tag.

Every message is written here, in the style of QQ gaming/campus groups and English Discord-like chat;
none comes from the development data sets.
"""
from __future__ import annotations

import pytest

from connectors.events import Group, Join, Message
from console.engine.config import ConfigError, parse_settings
from console.engine.detectors.ad import AdDetector
from console.engine.detectors.ad_policy import Policies, PolicyError, commerce_kinds, parse_policy
from console.engine.detectors.ad_text import AdRules, normalize
from console.engine.detectors.base import Context
from console.engine.settings import AdSettings
from console.engine.stats import FleetStats

T0 = 1_700_000_000.0

# Commerce talk in a no-commerce (禁商) group, with the kinds the policy must name.
COMMERCE = [
    ("出个满级号 30r", {"selling", "price"}),
    ("出个60级的号 50R 要的滴滴", {"selling", "price"}),
    ("收永久会员 私聊", {"buying"}),
    ("谁有加速器卖", {"buying"}),
    ("有没有大佬有梯子卖的", {"buying"}),
    ("出vape 全新未拆 便宜出", {"selling", "price"}),
    ("低价出售原神账号，价格美丽", {"selling", "price"}),
    ("租号 一小时5块", {"renting", "price"}),
    ("三十块出一套皮肤", {"selling", "price"}),
    ("收个号 有的私", {"buying"}),
    ("代练上分 包上王者", {"selling"}),
    ("来我们群玩，群号在我主页", {"recruiting"}),
    ("新开的私服，进服送vip", {"recruiting"}),
    ("复制这条打开淘宝 ¥AbCdEfGh12¥", {"share code"}),
    ("帮我砍一刀 拼多多 谢谢大家", {"share code"}),
    ("填我的邀请码 X7K2P9 送648", {"share code"}),
    ("WTS rare skins, dm for price", {"selling", "price"}),
    ("selling my account $30 obo", {"selling", "price"}),
    ("WTB cheap vpn, paypal ok", {"buying", "price"}),
    ("join our discord discord.gg/abcd for giveaways", {"recruiting"}),
    ("use my referral code X7Y8 for 10% off", {"share code"}),
]

# Chat in the same groups that talks about the game, money or other groups without trading.
NOT_COMMERCE = [
    "今天出去玩吗", "这个bug出来了吗", "我收到了谢谢", "出问题了快看", "明天一块打本", "我号被封了", "你们出发了吗",
    "收藏了，回头看", "这皮肤好看", "刚抽到一个五星角色", "昨晚服务器卡死了", "老师说明天考试", "出门忘带钥匙了",
    "I will buy pizza tonight", "who wants to play later?", "my account got hacked yesterday", "gg well played",
]


@pytest.mark.parametrize("text,kinds", COMMERCE)
def test_commerce_talk_is_named_by_kind(text, kinds) -> None:
    assert kinds <= set(commerce_kinds(normalize(text)))


@pytest.mark.parametrize("text", NOT_COMMERCE)
def test_everyday_chat_is_no_commerce(text) -> None:
    assert commerce_kinds(normalize(text)) == []


class Fleet:
    def __init__(self, **kw) -> None:
        self.stats = FleetStats()
        self.det = AdDetector(AdSettings(**kw))
        self.n = 0

    def group(self, gid: str, *tags: str) -> None:
        self.stats.load_group(Group(id=gid, name=gid, platform="qq", tags=tags), T0)

    def join(self, group: str, member: str, at: float = T0) -> None:
        ev = Join(group=group, member=member, member_name=member, at=at)
        self.stats.apply(ev)
        list(self.det.on_event(ev, Context(self.stats, at)))

    def say(self, group: str, text: str, member: str = "qq:42", at: float = T0 + 60):
        self.n += 1
        ev = Message(group=group, sender=member, sender_name=member, text=text, at=at, id=f"m{self.n}")
        self.stats.apply(ev)
        return list(self.det.on_event(ev, Context(self.stats, at)))


def test_no_commerce_flags_community_trade_only_where_it_applies() -> None:
    f = Fleet(policies={"qq:1": "no_commerce"})
    for text, _ in COMMERCE:
        (finding,) = f.say("qq:1", text)
        assert any(r.startswith("no_commerce: ") for r in finding.reasons), (text, finding.reasons)
    (finding,) = f.say("qq:1", "出个满级号 30r")
    assert "no_commerce: selling + price" in finding.reasons
    # The same words in a group without the policy: plain slang, no alert.
    for text in ("出个满级号 30r", "谁有加速器卖", "三十块出一套皮肤"):
        assert f.say("qq:2", text) == [], text
    for text in NOT_COMMERCE:
        assert f.say("qq:1", text) == [], text


def test_policy_by_tag_and_group_entry_wins() -> None:
    f = Fleet(policies={"tag:gaming": "no_commerce", "qq:3": "default"})
    f.group("qq:1", "gaming", "campus")
    f.group("qq:3", "gaming")
    f.group("qq:4", "campus")
    assert f.say("qq:1", "收永久会员 私聊")
    assert f.say("qq:3", "收永久会员 私聊") == []  # its own entry says default
    assert f.say("qq:4", "收永久会员 私聊") == []


def test_no_links() -> None:
    f = Fleet(policy="no_links")
    (finding,) = f.say("qq:1", "看这个 example.com/abc")
    assert any(r.startswith("no_links: link example.com") for r in finding.reasons)
    (finding,) = f.say("qq:1", "资料在 pan点baidu点com 自取")
    assert any(r.startswith("no_links: ") for r in finding.reasons)
    assert f.say("qq:1", "明天几点集合？") == []
    assert Fleet().say("qq:1", "看这个 example.com/abc") == []  # default: a link alone is no ad


def test_strict_newcomers_hold_contacts_links_cards_images() -> None:
    f = Fleet(policies={"qq:1": "strict_newcomers"}, newcomer_boost=0.0)
    for i, text in enumerate(["有问题可以问我 QQ 2837461951", "[image]", "[card 推荐好友: 小雨]",
                              "新人报道 github.com/someone"]):
        member = f"qq:{100 + i}"
        f.join("qq:1", member)
        (finding,) = f.say("qq:1", text, member=member)
        assert any(r.startswith("strict_newcomers: a newcomer's message with") for r in finding.reasons), text
    f.join("qq:1", "qq:200")
    assert f.say("qq:1", "大家好，新人报道", member="qq:200") == []
    # An old member posting an image is fine; so is a newcomer in a group without the policy.
    assert f.say("qq:1", "[image]", member="qq:42") == []
    f.join("qq:2", "qq:300")
    assert f.say("qq:2", "[image]", member="qq:300") == []


def test_a_not_an_ad_verdict_still_wins_over_the_policy() -> None:
    from console.engine.detectors.ad_model import AdModel

    f = Fleet(policies={"qq:1": "no_commerce"})
    model = AdModel(rules=f.det.rules)
    f.det.scorer = model
    assert f.say("qq:1", "群主说周五出周边，十块一个")
    model.learn("群主说周五出周边，十块一个", False)
    assert f.say("qq:1", "群主说周五出周边，十块一个") == []


def test_parse_policy_and_combinations() -> None:
    p = parse_policy("no_commerce + strict_newcomers")
    assert p.commerce and p.newcomers and not p.links and p.name == "no_commerce+strict_newcomers"
    assert parse_policy("default").name == "default"
    with pytest.raises(PolicyError, match="did you mean 'no_links'"):
        parse_policy("no_link")
    pol = Policies("no_links", {"tag:a": "no_commerce"})
    assert pol.for_group("qq:1", ("a",)).name == "no_commerce+no_links"
    assert pol.for_group("qq:1").name == "no_links"


def test_policy_is_in_the_analysis_before_the_model() -> None:
    a = parse_policy("no_commerce").apply(AdRules().analyze("出个满级号 30r"))
    assert a.score >= 0.9 and a.reasons[-1] == "no_commerce: selling + price"


def test_bad_policy_in_config_is_one_line_with_file_line_and_key() -> None:
    text = '[detectors.ad]\npolicy = "no_links"\n\n[detectors.ad.policies]\n"qq:1" = "no_commerce"\n' \
           '"tag:gaming" = "no_comerce"\n'
    with pytest.raises(ConfigError) as e:
        parse_settings(text, "gw.toml")
    assert str(e.value).startswith('gw.toml:6: detectors.ad.policies."tag:gaming": unknown policy')
    assert "\n" not in str(e.value)
    s = parse_settings(text.replace("no_comerce", "no_commerce+strict_newcomers"), "gw.toml")
    assert s.detectors.ad.policies == {"qq:1": "no_commerce", "tag:gaming": "no_commerce+strict_newcomers"}
    with pytest.raises(ConfigError, match=r"gw.toml:2: detectors.ad.policy: unknown policy 'strict'"):
        parse_settings('[detectors.ad]\npolicy = "strict"\n', "gw.toml")
