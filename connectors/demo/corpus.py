"""What simulated people say: ordinary chat, flood filler, and ads.

The ads imitate what operators actually see in Chinese and international
groups: contact swaps whose QQ/WeChat id is obfuscated so keyword filters miss
it, selling posts, links, and English crypto scams. All templates are written
for this project; none is copied from a dataset.
"""
from __future__ import annotations

import random

# --- ordinary chat ---------------------------------------------------------

ZH_CHAT = (
    "大家早上好", "早啊各位", "早安☀️", "中午吃啥", "今天好冷啊", "下雨了记得带伞", "哈哈哈哈", "哈哈哈笑死我了",
    "确实", "+1", "同问", "有人吗", "在的", "收到", "好的好的", "谢谢大佬", "感谢分享", "学到了", "牛啊", "太强了",
    "666", "厉害厉害", "我也是这么想的", "不太懂，求解释", "有没有人知道怎么弄", "这个我试过，不行", "可以试试重启",
    "晚上好", "晚安各位", "又到周五了", "周末有什么安排", "今天加班到九点😭", "打工人打工魂", "刚下班", "堵车堵死了",
    "外卖还没到", "有人拼单吗", "奶茶续命", "我先去吃饭了", "回来了", "刚看到消息", "抱歉刚在开会", "明天再说吧",
    "这个问题之前群里讨论过", "可以翻一下群公告", "群文件里有", "谁有链接发一下", "我私聊你", "我截个图",
    "[图片]", "[表情]", "[语音]", "[动画表情]", "👍", "😂😂😂", "🙏", "🤣", "👌", "🐶", "[捂脸]", "[强]", "[OK]",
    "真的假的", "不会吧", "离谱", "绝了", "太真实了", "笑不活了", "我酸了", "蹲一个后续", "坐等", "顶一下",
    "大家觉得呢", "有推荐的吗", "求推荐", "谁知道附近有好吃的", "今天天气不错", "降温了注意保暖", "感冒了难受",
    "新年快乐🎉", "红包呢", "手慢了没抢到", "谢谢老板的红包🧧", "群主威武", "管理员辛苦了", "欢迎新朋友",
    "新人报到，请多关照", "潜水好久了冒个泡", "我回来了", "好久不见", "最近好忙", "一起加油💪", "冲冲冲",
    "这个价格还行", "有点贵了", "等活动再买", "我上周买了一个，挺好用", "质量一般", "物流好慢", "已经下单了",
    "睡不着，有人聊天吗", "熬夜党报到", "明天还要早起", "闹钟响了三遍", "周一综合症", "今天效率超高",
    "我觉得挺好的", "没毛病", "说得对", "也不一定吧", "看情况", "各有各的好", "那就这么定了", "几点集合？",
    "地址发一下", "我到了", "马上到", "等我五分钟", "我迟到了😅", "路上小心", "到家了", "刚刚那个视频好好笑",
    "有人看昨晚的比赛吗", "这个剧太上头了", "推荐一部电影", "周末去爬山吗", "今天步数两万", "减肥失败",
)

EN_CHAT = (
    "morning all", "good morning!", "hey everyone", "hi", "lol", "haha true", "same here", "+1", "agreed",
    "anyone around?", "thanks!", "thank you so much", "nice one", "cool", "that's awesome", "wow",
    "does anyone know how to fix this?", "I had the same issue last week", "try restarting it",
    "check the pinned message", "it's in the files section", "can someone share the link?", "DM me",
    "brb", "back", "sorry, was in a meeting", "just saw this", "let's talk tomorrow", "good night folks",
    "happy friday 🎉", "any plans for the weekend?", "it's freezing today", "coffee time ☕", "lunch?",
    "what do you all think?", "any recommendations?", "not sure tbh", "depends", "makes sense", "fair point",
    "I disagree a bit", "that's a great idea", "count me in", "where do we meet?", "on my way", "running late 😅",
    "omg", "no way", "this is hilarious 😂", "👍", "🙏", "😂😂", "🔥🔥", "welcome!", "welcome to the group 👋",
    "new here, hi all", "long time lurker, first post", "good to be back", "congrats!!", "happy new year 🎆",
    "how much was it?", "a bit pricey", "worth it imo", "mine arrived today", "shipping took forever",
    "can't sleep lol", "monday again...", "productive day today", "weekend vibes", "see you there",
)

TOPIC_ZH: dict[str, tuple[str, ...]] = {
    "tech": ("这个报错谁遇到过", "pip install 一直超时，换源了也不行", "用conda还是venv好", "Rust的借用检查器又把我劝退了",
             "有人用过这个库吗", "代码贴一下看看", "是不是版本问题", "升级到最新版就好了", "文档里写了",
             "面试被问到GIL了", "推荐一本入门书", "周末写了个小工具，开源了", "k8s的pod一直重启", "docker镜像太大了怎么办",
             "async 和多线程怎么选", "这个需求太离谱了", "线上又挂了😇", "git rebase 把我代码搞没了", "求大佬帮看下这个bug",
             "VS Code 还是 PyCharm", "今天终于把CI跑绿了", "有没有内推", "这个正则怎么写"),
    "gaming": ("开黑吗", "五排来人", "上分上分", "今晚几点上线", "我打野", "辅助来一个", "又连跪了😭", "这赛季太难了",
               "新皮肤好看", "抽卡又歪了", "保底出了！", "这个boss怎么打", "攻略求分享", "队友太坑了", "带我飞",
               "刚五杀了哈哈", "版本更新了", "服务器炸了吗", "卡成PPT", "有人帮派战吗", "周末副本走起", "段位掉了"),
    "parenting": ("宝宝发烧38度5怎么办", "奶粉大家用的哪个牌子", "孩子不爱吃饭愁死了", "推荐一下早教班", "今天家长会",
                  "作业太多了", "辅导作业血压飙升", "疫苗打完有点低烧正常吗", "二宝终于睡了", "纸尿裤哪款不红屁屁",
                  "周末带娃去哪玩", "幼儿园报名开始了", "孩子咳嗽好几天了", "辅食怎么做", "求推荐绘本"),
    "fans": ("新歌太好听了😭", "演唱会抢到票了！", "没抢到票呜呜", "今天的物料好帅", "打卡打卡", "应援一下",
             "超话签到了吗", "明天生日会", "投票别忘了", "这个舞台我能看一百遍", "官宣了！", "求高清图"),
    "customer": ("我的订单什么时候发货", "客服在吗", "怎么申请售后", "优惠券怎么用", "退款多久到账", "快递显示签收了但没收到",
                 "新品什么时候上", "这个有现货吗", "尺码偏大还是偏小", "会员积分怎么查", "发票怎么开", "好评返现还有吗"),
    "sneakers": ("这双鞋真假怎么看", "尺码偏大吗", "抽签又没中", "今天发售的谁中了", "原价入的", "鞋盒压坏了",
                 "有没有人换码", "配色太好看了"),
    "local": ("物业又停水了", "楼下在装修好吵", "快递柜满了", "小区门口新开了家店", "停车位还有出租的吗", "电梯又坏了",
              "有人拼车去机场吗", "附近哪家理发店靠谱", "签证续签要多久", "周末华人超市打折"),
    "hobby": ("今天打卡完成✅", "周末去哪爬山", "这本书推荐", "膝盖有点疼", "练了三个月终于看到效果", "装备求推荐",
              "天气好适合出去走走", "今天读完了一本"),
    "study": ("今日打卡：背单词200个", "真题做完了", "口语好难", "有没有一起自习的", "分数出来了", "复习进度落后了",
              "资料群文件有", "考前焦虑"),
}

TOPIC_EN: dict[str, tuple[str, ...]] = {
    "tech": ("anyone seen this error before?", "which version are you on?", "works on my machine 🙃", "PR is up, reviews welcome",
             "CI is green finally", "the docs cover this", "try pinning the dependency", "prod is down again",
             "is this a bug or a feature?", "just shipped a small side project", "rebase or merge?"),
    "gaming": ("anyone up for ranked?", "need one more for the squad", "gg", "that clutch was insane", "patch notes are out",
               "servers lagging for anyone else?", "who's on tonight?", "lost 5 in a row, taking a break"),
    "fans": ("the new single is amazing", "got tickets!!", "missed the presale 😭", "streaming party tonight?",
             "new photos dropped", "that performance was unreal"),
    "customer": ("when will my order ship?", "how do I request a refund?", "is support online?", "the coupon didn't apply",
                 "any restock planned?", "love the new release"),
    "sneakers": ("took an L on the raffle again", "W! got a pair", "true to size?", "legit check please",
                 "resell prices are wild", "anyone trading a size 10?"),
    "local": ("anyone know a good dentist nearby?", "the tram is delayed again", "flat viewing tomorrow",
              "where do you buy Chinese groceries?", "visa appointment finally booked"),
    "hobby": ("finished the book, loved it", "next meetup on Sunday?", "great session today", "any gear recommendations?"),
    "study": ("day 12 streak", "mock test done", "anyone studying tonight?", "got my score back"),
}

FLOOD_LINES = ("哈", "哈哈哈哈哈", "666", "冲冲冲", "[图片]", "[动画表情]", "😂", "🤣🤣🤣", "顶", "1", "啊啊啊啊",
               "来了来了", "lol", "!!!", "？？？", "在吗在吗", "好耶", "🐶🐶🐶")
NEWCOMER_GREETINGS = ("大家好，新人报到", "新人求带", "hello 大家好", "刚进群，请多关照🙏", "hi all, just joined",
                      "hello everyone 👋", "朋友拉我进来的", "请问群公告在哪看")
MENTION_REPLIES = ("在的在的", "哈哈被点名了", "一直在潜水😅", "刚看到，我也觉得挺好", "来了来了", "收到～", "我最近比较忙，看消息少",
                   "sorry just saw this", "here! mostly lurking lol", "thanks for the ping", "good question, I think so too",
                   "冒个泡👋", "同意楼上", "不好意思才回")


def chat_lines(tags: tuple[str, ...], lang: str) -> tuple[str, ...]:
    """The line pool for one group: generic chat plus its topic, topic weighted up."""
    zh, en = lang in ("zh", "mixed"), lang in ("en", "mixed")
    pool: list[str] = []
    if zh:
        pool += ZH_CHAT
    if en:
        pool += EN_CHAT
    for tag in tags:
        if zh:
            pool += TOPIC_ZH.get(tag, ()) * 3
        if en:
            pool += TOPIC_EN.get(tag, ()) * 3
    return tuple(pool)


# --- obfuscation -----------------------------------------------------------

CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
ZH_DIGITS = ("零〇", "一幺壹", "二两贰", "三叁", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖")
KEYCAP = "\ufe0f\u20e3"
# Letters that render like Latin capitals but are Greek, Cyrillic or
# mathematical alphanumerics, so "KE597" no longer matches a plain regex.
HOMOGLYPHS: dict[str, str] = {
    "A": "ΑА𝐀", "B": "ΒВ𝐁", "C": "С𝐂", "E": "ΕЕ𝐄", "H": "ΗН𝐇", "K": "ΚК𝐊", "M": "ΜМ𝐌", "N": "Ν𝐍", "O": "ΟО𝐎",
    "P": "ΡР𝐏", "S": "𝕊Ѕ𝐒", "T": "ΤТ𝐓", "X": "ΧХ𝐗", "Y": "ΥҮ𝐘", "Z": "Ζ𝐙", "D": "𝐃𝔻", "F": "𝐅𝔽", "W": "𝐖𝕎",
    "a": "а𝐚", "c": "с𝐜", "e": "е𝐞", "o": "о𝐨", "p": "р𝐩", "x": "х𝐱", "y": "у𝐲", "s": "ѕ𝐬",
}
FILLERS = ("ᚰ", "☀☀", "✿✿", "❤", "☎", "~", ".", "🔥", "💋", "👉", "╬")
SEPARATORS_QQ = ("扣扣", "+扣", "加Q", "企鹅", "扣号", "Q", "➕扣", "叩叩")
SEPARATORS_WX = ("加V", "薇信", "+V", "威", "伽韦", "嘉微", "VX", "wx", "➕v", "喂心")


def fullwidth(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def circled(s: str) -> str:
    return "".join(CIRCLED[int(ch)] if ch.isascii() and ch.isdigit() else ch for ch in s)


def zh_numerals(rng: random.Random, s: str) -> str:
    out = []
    for ch in s:
        if ch.isascii() and ch.isdigit():
            forms = ZH_DIGITS[int(ch)]
            out.append(forms[int(rng.random() * len(forms))])
        else:
            out.append(ch)
    return "".join(out)


def spaced(rng: random.Random, s: str) -> str:
    sep = (" ", "-", ".", " ", "+")[int(rng.random() * 5)]
    parts, i = [], 0
    while i < len(s):
        n = 2 + int(rng.random() * 3)
        parts.append(s[i:i + n])
        i += n
    return sep.join(parts)


def keycaps(s: str) -> str:
    return "".join(ch + KEYCAP if ch.isascii() and ch.isdigit() else ch for ch in s)


def homoglyphs(rng: random.Random, s: str) -> str:
    out = []
    for ch in s:
        forms = HOMOGLYPHS.get(ch)
        out.append(forms[int(rng.random() * len(forms))] if forms and rng.random() < 0.8 else ch)
    return "".join(out)


def obfuscate(rng: random.Random, contact: str, how: str | None = None) -> str:
    """``contact`` rendered the way one spammer would, e.g. ``２０９６①②`` or ``Κ Ε 5 9 7``."""
    kinds = ("fullwidth", "circled", "zh", "spaced", "keycap", "homoglyph", "mixed", "plain")
    how = how or kinds[int(rng.random() * len(kinds))]
    if how == "fullwidth":
        return fullwidth(contact)
    if how == "circled":
        return circled(contact)
    if how == "zh":
        return zh_numerals(rng, contact)
    if how == "spaced":
        return spaced(rng, contact)
    if how == "keycap":
        return keycaps(contact)
    if how == "homoglyph":
        return homoglyphs(rng, contact)
    if how == "mixed":
        half = len(contact) // 2
        return homoglyphs(rng, fullwidth(contact[:half]) + circled(contact[half:]))
    return contact


# --- ads -------------------------------------------------------------------

GAMES = ("王者", "原神", "和平精英", "梦幻", "LOL", "蛋仔", "CF")
# {sep} a contact separator, {c} the obfuscated contact, {link} a link, {game}.
AD_CONTACT_ZH = (
    "{sep}{c} 兼职日结，手机就能做，宝妈学生都可以",
    "兼职日结 一单一结 不收押金 {sep}：{c}",
    "{c} {sep} 看我名 有惊喜",
    "看我名，{sep}{c} 领福利",
    "刷单返利 日入300+ 详情{sep}{c}",
    "想赚零花钱的{sep} {c}，不骗人",
    "需要的老哥私聊我 {sep}{c}",
    "福利群免费进 {sep}{c} 备注来意",
    "{sep} {c} 看直播 私聊",
    "招聘打字员 在家可做 {sep}{c}",
)
AD_TRADE_ZH = (
    "出号 {game}V10 全皮肤 价格可刀 {sep}{c}",
    "收号 高价回收{game}账号 秒结 {sep}{c}",
    "出{game}成品号，有意私聊 {sep}{c}",
    "低价代充 {game}点券 八折 {sep}{c}",
    "代发广告 全网推广 效果看得见 {sep}{c}",
    "收手机卡 收银行卡 高价 {sep}{c}",
    "出vape 烟弹 全国包邮 {sep}{c}",
)
AD_LINK_ZH = (
    "免费领取{game}皮肤 {link}",
    "内部渠道 稳赚不赔 进群领红包 {link}",
    "最新{game}辅助 防封 下载地址 {link}",
    "代发广告/上粉/克隆 联系 {link}",
    "兼职日结群 {link} 名额有限",
    "看片网站 {link} 永久免费",
)
AD_EN = (
    "I made $8,000 in 3 days with this platform, 100% legit. Contact my manager {link}",
    "🚀 Crypto signals with 95% accuracy, join our VIP channel {link}",
    "Hello everyone, looking for serious people to earn $500 daily from home. DM me or {link}",
    "Claim your free 500 USDT airdrop now 👉 {link}",
    "Thanks to Mrs. Olivia I now earn weekly from bitcoin mining, contact her {link}",
    "Cheap Netflix / Spotify / ChatGPT Plus accounts, lifetime warranty, DM {link}",
    "Want to learn forex? Free mentorship, only 10 slots left: {link}",
    "Investing with this company changed my life, withdrawal in 24h, trusted 100% {link}",
)
AD_STYLES = ("contact", "trade", "link", "crypto")
DOMAINS = ("vip-earn", "quick-profit", "freegift", "coin-boost", "bestdeal", "xyz-fuli", "hongbao88", "usdt-pro")
TLDS = ("com", "top", "xyz", "cc", "vip", "ltd")
ALNUM = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def rand_str(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(alphabet[int(rng.random() * len(alphabet))] for _ in range(n))


def new_contact(rng: random.Random, kind: str) -> str:
    """A team's contact: a QQ number, or a WeChat-style id like ``KE597`` / ``sx111505``."""
    if kind == "qq":
        return str(rng.randint(10_000_000, 3_999_999_999))
    if rng.random() < 0.5:
        return rand_str(rng, 3, "ABCDEFHKMPSTXZ") + str(rng.randint(100, 999))
    return rand_str(rng, 2, "abcdefghkmnpstwxyz") + str(rng.randint(10_000, 999_999))


def new_link(rng: random.Random, handle: str) -> str:
    r = rng.random()
    if r < 0.3:
        return f"t.me/{handle}"
    if r < 0.5:
        return f"https://t.me/+{rand_str(rng, 16)}"
    if r < 0.75:
        return f"http://{DOMAINS[int(rng.random() * len(DOMAINS))]}.{TLDS[int(rng.random() * len(TLDS))]}/{rand_str(rng, 5)}"
    if r < 0.88:
        return f"bit.ly/{rand_str(rng, 7)}"
    # Spelled-out dots defeat link regexes: "www点xyz88点com".
    return f"www点{DOMAINS[int(rng.random() * len(DOMAINS))]}点com"


def ad_text(rng: random.Random, style: str, contact: str, contact_kind: str, handle: str) -> str:
    """One campaign's base text; ``vary`` then makes each group's copy slightly different."""
    if style == "crypto":
        return AD_EN[int(rng.random() * len(AD_EN))].format(link=new_link(rng, handle))
    if style == "link":
        t = AD_LINK_ZH[int(rng.random() * len(AD_LINK_ZH))]
        return t.format(link=new_link(rng, handle), game=GAMES[int(rng.random() * len(GAMES))])
    templates = AD_TRADE_ZH if style == "trade" else AD_CONTACT_ZH
    t = templates[int(rng.random() * len(templates))]
    seps = SEPARATORS_QQ if contact_kind == "qq" else SEPARATORS_WX
    return t.format(sep=seps[int(rng.random() * len(seps))], c=obfuscate(rng, contact),
                    game=GAMES[int(rng.random() * len(GAMES))])


def vary(rng: random.Random, text: str) -> str:
    """The small per-group edits spammers make so exact-duplicate filters miss the repeat."""
    ops = 1 + int(rng.random() * 2)
    for _ in range(ops):
        r = rng.random()
        filler = FILLERS[int(rng.random() * len(FILLERS))]
        if r < 0.3:
            text = text + filler
        elif r < 0.5:
            text = filler + text
        elif r < 0.7:
            # Trailing junk letters, a habit of bulk senders ("...想要的 qW").
            text = f"{text}{' ' * (1 + int(rng.random() * 6))}{rand_str(rng, 2)}"
        elif r < 0.85:
            text = text.replace("，", ",", 1) if "，" in text else text.replace(" ", "  ", 1)
        else:
            text = text.replace(" ", " " + filler, 1) if " " in text else text + filler
    return text


# --- image and card ads: in QQ/WeChat groups, more common than text ------------------------------

QR_TEXTS = ("[image]", "扫码进群领福利 [image]", "[image] 加我拉你进内部群", "资料都在群里，扫码 [image]", "[image]")
GROUP_NAMES_ZH = ("福利交流群", "游戏资源分享群", "副业交流群", "免费资料群", "内部优惠群")


def qr_payload(rng: random.Random) -> str:
    """What a spammer's QR code opens: a WeChat/QQ contact, a group, a payment."""
    r = rng.random()
    if r < 0.35:
        return f"https://u.wechat.com/{rand_str(rng, 22)}"
    if r < 0.6:
        return f"https://qm.qq.com/cgi-bin/qm/qr?k={rand_str(rng, 16)}&group_code={rng.randint(100_000_000, 999_999_999)}"
    if r < 0.8:
        return f"https://weixin.qq.com/g/{rand_str(rng, 16)}"
    return f"wxp://f2f0{rand_str(rng, 20)}"


def image_ad(rng: random.Random, kind: str) -> tuple[str, tuple[str, ...]]:
    """(text, demo image refs) of one image campaign: a QR code (``kind`` "qr") or a card."""
    if kind == "qr":
        return QR_TEXTS[int(rng.random() * len(QR_TEXTS))], (f"qr:{qr_payload(rng)}",)
    return card_ad(rng), ()


def card_ad(rng: random.Random) -> str:
    """A contact, group-invite or mini-program card, as the OneBot connector writes it into text."""
    r = rng.random()
    n = rng.randint(100_000_000, 3_999_999_999)
    if r < 0.4:
        return f"[contact card: QQ {n}]"
    if r < 0.8:
        name = GROUP_NAMES_ZH[int(rng.random() * len(GROUP_NAMES_ZH))]
        return (f"[group invite card 推荐群聊：{name} | {name} 群号 {n} "
                f"https://qm.qq.com/cgi-bin/qm/qr?k={rand_str(rng, 16)}&group_code={n}]")
    return (f"[mini-program card [QQ小程序]拼多多 | 帮我砍一刀，差一点点就免费拿了 "
            f"https://mobile.yangkeduo.com/duo_coupon_landing.html?share={rand_str(rng, 10)}]")
