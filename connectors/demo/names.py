"""Names for simulated people and groups.

Every function takes the world's ``random.Random`` so the fleet stays
reproducible; nothing here keeps state. Indexing with ``int(rng.random() * n)``
instead of ``rng.choice`` is deliberate: member creation is the bulk of world
set-up at 2000 groups, and the direct index is about twice as fast.
"""
from __future__ import annotations

import random

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华建国志红玉梅飞鹏宇浩然轩欣怡涵桐诺远琪晨阳嘉俊婷博文宏"
         "亮辉斌波宁颖雪慧佳萱子梓睿泽昊天宸若汐悦琳思雨彤晴瑶航凯鑫磊淼森瀚")
ZH_NICKS = ("小鱼儿", "阿杰", "大白", "柠檬不萌", "奶茶续命", "一只咸鱼", "晴天", "追风少年", "半夏", "南风知我意",
            "星辰大海", "不吃香菜", "快乐小狗", "夜猫子", "打工人", "干饭王", "摸鱼达人", "橘子汽水", "山有木兮",
            "岁月静好", "路人甲", "momo", "A.小胖", "Lucky", "无敌小可爱", "老王隔壁", "北方的狼", "糖醋排骨",
            "秋刀鱼", "栗子", "小太阳", "阿狸", "一杯清茶", "咕咚", "佛系青年", "熬夜冠军", "拾光", "木子",
            "听雨", "大橙子", "芒果布丁", "土豆", "饭团", "风一样的男子", "向日葵", "阿飞", "小七", "老K")
ZH_NICK_PATTERNS = ("小{c}", "阿{c}", "{c}{c}", "老{s}", "{c}哥", "{c}姐", "{c}儿", "{s}{c}{c}", "大{c}")
ZH_DECOR_PREFIX = ("【北京】", "【上海】", "[深圳]", "(杭州)", "【广州】", "【成都】", "A-", "✨")
ZH_DECOR_SUFFIX = ("-产品经理", "|设计", " 宝妈", "（2班家长）", "~", "🌸", "🍀", "⭐", "🐱", "🌙", "🔥", "🐟", "💤")
PARENT_SUFFIX = ("妈妈", "妈", "爸爸", "宝妈", "麻麻")

EN_FIRST = ("Emily", "Jack", "Olivia", "Liam", "Sophia", "Noah", "Mia", "Lucas", "Ava", "Ethan", "Chloe", "Leo",
            "Grace", "Ryan", "Zoe", "Daniel", "Hannah", "Max", "Lily", "Sam", "Anna", "Tom", "Nina", "Felix",
            "Sara", "Jonas", "Laura", "Kevin", "Jenny", "Alex", "Eric", "Tina", "Marco", "Julia", "Ben", "Ivy",
            "Oscar", "Elena", "Hugo", "Maya", "Chris", "Amy", "David", "Kate", "Paul", "Vivian", "Tony", "Cindy")
EN_LAST = ("Chen", "Wang", "Li", "Zhang", "Liu", "Smith", "Brown", "Müller", "Garcia", "Rossi", "Nguyen", "Kim",
           "Tanaka", "Lee", "Johnson", "Martin", "Novak", "Schmidt", "Dubois", "Silva", "Khan", "Patel", "Wu", "Lin")
EN_HANDLE_WORDS = ("pixel", "shadow", "coffee", "nomad", "ghost", "lucky", "sunny", "byte", "river", "fox", "panda",
                   "neo", "astro", "chill", "vibe", "retro", "mango", "ninja", "wolf", "cloud")
EMOJI_TAGS = ("🌸", "🍀", "⭐", "🐱", "🌙", "🔥", "🎮", "☕", "🌈", "🐼", "✨", "💫", "🦊", "🍓")

# Names come from strangers, so the console must show these as text, never
# as markup, escapes or reordering. A few are planted in every fleet.
HOSTILE_NAMES = (
    "[bold red]x[/]",
    "\x1b[31mADMIN\x1b[0m",
    "\u202egnp.exe",
    "[link=http://evil.example]click me[/link]",
    "系统通知\n你已被禁言",
    "Z\u0337\u0322a\u0338l\u0336g\u0335o\u0334",
    "a\u200bd\u200bm\u200bi\u200bn",
    "🐟" * 60,
    "\x07\x08bell\tname",
    "[/][reverse]群主[/reverse]",
)

# Disguises for ad accounts: the account name often carries the contact
# ("看我名") or looks like a friendly stranger.
AD_NAMES_ZH = ("看我名加V", "甜甜💋", "兼职招聘-小雨", "客服小美", "看名字加我", "福利官", "小鹿代发", "刷单主管",
               "安安（私我）", "出号收号", "日结兼职", "晴儿❤", "靓妹在线", "代充客服", "招聘专员-王经理")
AD_NAMES_EN = ("Crypto Mentor Anna", "Jessica | Forex Expert", "Mrs. Olivia Brown", "Support Team", "Airdrop Bot",
               "Daniel (Investment)", "Sophia💎Trader", "VIP Signals", "Kate | DM me", "Admin Help Desk")


def _pick(rng: random.Random, seq: tuple[str, ...] | str) -> str:
    return seq[int(rng.random() * len(seq))]


def zh_name(rng: random.Random, parent: bool = False) -> str:
    if parent and rng.random() < 0.6:
        return _pick(rng, GIVEN) * 2 + _pick(rng, PARENT_SUFFIX)
    r = rng.random()
    if r < 0.42:
        name = _pick(rng, SURNAMES) + _pick(rng, GIVEN) + (_pick(rng, GIVEN) if rng.random() < 0.7 else "")
    elif r < 0.62:
        name = _pick(rng, ZH_NICKS)
    else:
        pattern = _pick(rng, ZH_NICK_PATTERNS)
        name = pattern.format(c=_pick(rng, GIVEN), s=_pick(rng, SURNAMES))
    d = rng.random()
    if d < 0.06:
        return _pick(rng, ZH_DECOR_PREFIX) + name
    if d < 0.18:
        return name + _pick(rng, ZH_DECOR_SUFFIX)
    return name


def en_name(rng: random.Random) -> str:
    r = rng.random()
    first = _pick(rng, EN_FIRST)
    if r < 0.45:
        name = f"{first} {_pick(rng, EN_LAST)}"
    elif r < 0.65:
        name = f"{first.lower()}_{_pick(rng, EN_LAST)[0].lower()}"
    elif r < 0.8:
        name = f"{_pick(rng, EN_HANDLE_WORDS)}{int(rng.random() * 2000) + 80}"
    elif r < 0.9:
        name = f"{first.lower()}.{_pick(rng, EN_LAST).lower()}"
    else:
        name = first
    if rng.random() < 0.1:
        name += _pick(rng, EMOJI_TAGS)
    return name


def person_name(rng: random.Random, lang: str, parent: bool = False) -> str:
    """A member name fitting a group's language; fleets mix, so some cross over."""
    cross = rng.random()
    if lang == "zh":
        return en_name(rng) if cross < 0.1 else zh_name(rng, parent)
    if lang == "en":
        return zh_name(rng) if cross < 0.2 else en_name(rng)
    return en_name(rng) if cross < 0.45 else zh_name(rng, parent)


def ad_account_name(rng: random.Random, lang: str, contact: str, separator: str) -> str:
    if lang == "en":
        return _pick(rng, AD_NAMES_EN)
    if rng.random() < 0.3:
        # The contact in the name is what the message's "看我名" points at.
        return f"{separator} {contact}"
    return _pick(rng, AD_NAMES_ZH)


# (template, tags, language). "{n}" takes a number so large fleets get
# "Python学习交流群 3" style siblings, as real operators number their groups.
GROUP_TEMPLATES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Python学习交流群 {n}", ("tech",), "zh"),
    ("Rust 中文社区", ("tech",), "zh"),
    ("前端技术交流群 {n}", ("tech",), "zh"),
    ("Go语言爱好者 {n}群", ("tech",), "zh"),
    ("Linux运维交流群", ("tech",), "zh"),
    ("AI绘画交流群 {n}", ("tech",), "zh"),
    ("Vue.js Developers", ("tech",), "en"),
    ("Kubernetes CN 用户组", ("tech",), "mixed"),
    ("Data Science Study Group", ("tech",), "en"),
    ("王者荣耀开黑群", ("gaming",), "zh"),
    ("原神攻略交流 {n}群", ("gaming",), "zh"),
    ("和平精英四排车队", ("gaming",), "zh"),
    ("英雄联盟峡谷之巅 {n}", ("gaming",), "zh"),
    ("我的世界建筑党", ("gaming",), "zh"),
    ("梦幻西游帮派群", ("gaming",), "zh"),
    ("Valorant EU Squad", ("gaming",), "en"),
    ("Apex Legends LFG", ("gaming",), "en"),
    ("宝妈育儿交流群", ("parenting",), "zh"),
    ("二胎妈妈互助群 {n}", ("parenting",), "zh"),
    ("幼儿园家长群 大{n}班", ("parenting",), "zh"),
    ("周杰伦歌迷会 {n}群", ("fans",), "zh"),
    ("五月天粉丝 {n}群", ("fans",), "zh"),
    ("易烊千玺后援会", ("fans",), "zh"),
    ("Taylor Swift Fans CN", ("fans",), "mixed"),
    ("BLACKPINK Global", ("fans",), "en"),
    ("旗舰店VIP客户群 {n}", ("customer",), "zh"),
    ("售后服务群 {n}", ("customer",), "zh"),
    ("会员福利群 {n}", ("customer",), "zh"),
    ("新品体验官 {n}群", ("customer",), "zh"),
    ("Acme Cloud Customers", ("customer",), "en"),
    ("Sneaker Drops EU", ("sneakers",), "en"),
    ("球鞋交流群 {n}", ("sneakers",), "zh"),
    ("小区业主群 {n}期", ("local",), "zh"),
    ("Berlin Expats 华人", ("local",), "mixed"),
    ("Toronto 华人互助", ("local",), "mixed"),
    ("周末徒步群", ("hobby",), "zh"),
    ("健身打卡群", ("hobby",), "zh"),
    ("考研互助群 2026", ("study",), "zh"),
    ("雅思备考打卡 {n}", ("study",), "zh"),
    ("Book Club Shanghai", ("hobby",), "en"),
)


def group_names(rng: random.Random, count: int) -> list[tuple[str, tuple[str, ...], str]]:
    """``count`` (name, tags, language) triples; repeats of a template get a number."""
    uses: dict[int, int] = {}
    out: list[tuple[str, tuple[str, ...], str]] = []
    for _ in range(count):
        i = int(rng.random() * len(GROUP_TEMPLATES))
        template, tags, lang = GROUP_TEMPLATES[i]
        k = uses[i] = uses.get(i, 0) + 1
        if "{n}" in template:
            name = template.format(n=k)
        else:
            name = template if k == 1 else f"{template} {k}"
        out.append((name, tags, lang))
    return out
