"""``groupwatch eval-ads``: the metric arithmetic on a hand-made file, the online protocol's order,
static training and the held-out split, output formats, and bad files as one-line errors."""
from __future__ import annotations

import json

import pytest

from console.cli import main
from console.eval_ads import Result, evaluate, split, tally

# Rules-only verdicts on these are fixed: textbook ads are flagged, plain chat is not.
FLAGGED = ["加v看片，日结，出号", "看女全部Q群~366^292555免费，私聊我", "出号，收号，低价代发，私聊我"]
QUIET = ["大家早上好", "今天天气不错，出去玩吗？", "明天 10:30 开会，别迟到"]


def write(path, rows) -> str:
    path.write_text("".join(json.dumps({"label": label, "text": text}, ensure_ascii=False) + "\n"
                            for label, text in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def tiny(tmp_path) -> str:
    # tp: 2 (flagged spam), fp: 1 (a flagged text labelled ham), fn: 2 (quiet texts labelled spam), tn: 2
    return write(tmp_path / "tiny.jsonl", [
        ("spam", FLAGGED[0]), ("spam", FLAGGED[1]), ("ham", FLAGGED[2]),
        ("spam", QUIET[0]), ("spam", QUIET[1]), ("ham", QUIET[2]), ("ham", "哈哈哈哈"),
    ])


def test_tally_arithmetic() -> None:
    r = tally("f", [True, True, False, True, True, False, False], [True, True, True, False, False, False, False],
              0.5)
    assert (r.n, r.tp, r.fp, r.fn) == (7, 2, 1, 2)
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(2 / 4)
    assert r.f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2)) and r.msgs_per_s == 14
    empty = Result("e", 0, 0, 0, 0, 0.0)
    assert (empty.precision, empty.recall, empty.f1, empty.msgs_per_s) == (0.0, 0.0, 0.0, 0.0)


def test_metrics_on_a_tiny_hand_made_file(tiny, capsys) -> None:
    assert main(["eval-ads", tiny, "--rules-only", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {"file", "n", "precision", "recall", "f1", "msgs_per_s"} <= set(row)
    assert row["file"] == "tiny.jsonl" and row["n"] == 7
    assert (row["tp"], row["fp"], row["fn"]) == (2, 1, 2)
    assert row["precision"] == round(2 / 3, 4) and row["recall"] == 0.5 and row["f1"] == round(4 / 7, 4)
    assert row["msgs_per_s"] > 0
    # An untrained model scores exactly like the rules.
    (same,) = evaluate([tiny])
    assert (same.tp, same.fp, same.fn) == (2, 1, 2)


def test_table_format(tiny, capsys) -> None:
    assert main(["eval-ads", tiny, tiny]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "rows", "precision", "recall", "F1", "msgs/s"]
    assert len(lines) == 3 and lines[1].split()[:5] == ["tiny.jsonl", "7", "0.6667", "0.5000", "0.5714"]


def test_online_predicts_each_message_before_learning_its_label(tmp_path) -> None:
    # Ten copies of an ad the rules cannot see. A correct online run misses the first (nothing
    # taught it yet) and, having learned that label, flags the nine after it. An evaluator that
    # learned a label before predicting it would flag the first too (fn 0), and one that never
    # learned would miss all ten.
    f = write(tmp_path / "same.jsonl", [("spam", "zzqx 出vape 100r 老地方见")] * 10)
    (r,) = evaluate([f], mode="online", seed=5)
    assert (r.tp, r.fn, r.fp) == (9, 1, 0)
    (static,) = evaluate([f], mode="static")
    assert (static.tp, static.fn) == (0, 10)  # nothing trained: the rules alone


def test_online_learns_from_ham_too_and_each_file_starts_afresh(tmp_path) -> None:
    text = "加v看片，日结，出号"  # the rules flag it; in this community it is ordinary
    f = write(tmp_path / "odd.jsonl", [("ham", text)] * 6)
    r1, r2 = evaluate([f, f], mode="online", seed=1)
    assert (r1.fp, r2.fp) == (1, 1)  # one false alert per file, then the lesson holds; not carried over


def test_static_training_on_other_files_changes_the_scores(tmp_path) -> None:
    ads = [f"zzqx 出vape {n}r 私" for n in range(100, 400, 20)]
    chat = ["今天下雨了", "晚上打游戏吗", "这个bug修好了", "周末去爬山吧", "午饭吃什么", "新版本挺好用",
            "谁有电子版", "明天开会", "哈哈笑死", "早点睡吧", "这首歌好听", "下班了吗", "好久不见"]
    train = write(tmp_path / "train.jsonl", [("spam", t) for t in ads] + [("ham", t) for t in chat])
    test = write(tmp_path / "test.jsonl", [("spam", "zzqx 出vape 999r 私"), ("spam", "zzqx 出vape 555r 私"),
                                           ("ham", "今天晚上吃火锅")])
    (rules,) = evaluate([test], rules_only=True)
    (trained,) = evaluate([test], [train], seed=1)
    assert rules.tp == 0 and trained.tp == 2 and trained.fp == 0


def test_holdout_scores_only_rows_it_did_not_train_on() -> None:
    rows = [(f"text {i}", i % 3 == 0) for i in range(50)]
    keep, held = split(rows, 0.2, seed=4)
    assert len(held) == 10 and len(keep) == 40 and not set(keep) & set(held) and set(keep) | set(held) == set(rows)
    assert split(rows, 0.2, seed=4) == (keep, held) and split(rows, 0.2, seed=5)[1] != held


def test_holdout_run_reports_the_held_out_rows(tmp_path, capsys) -> None:
    rows = [("spam", f"zzqx 出vape {n}r 私") for n in range(100, 300, 10)] + [("ham", f"日常聊天 {i}") for i in range(20)]
    f = write(tmp_path / "community.jsonl", rows)
    assert main(["eval-ads", f, "--holdout", "0.25", "--seed", "3", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["n"] == 10 and row["f1"] > 0.8


@pytest.mark.parametrize("content, where", [
    ('{"label": "spam", "text": "a"}\n{"label": "spam", "text": "b"}\n{oops\n', "bad.jsonl:3: not valid JSON"),
    ('{"label": "spam", "text": "a"}\n{"label": "junk", "text": "b"}\n', 'bad.jsonl:2: "label" must be "spam" or'),
])
def test_a_bad_file_is_one_line_naming_file_and_line(tmp_path, capsys, tiny, content, where) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    for argv in (["eval-ads", str(bad)], ["eval-ads", tiny, "--train", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and where in err and "Traceback" not in err
        assert err.startswith("groupwatch: error: ")


def test_a_missing_file_and_bad_options(tmp_path, capsys, tiny) -> None:
    assert main(["eval-ads", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err
    assert main(["eval-ads", tiny, "--holdout", "1.5"]) == 2
    assert "--holdout must be" in capsys.readouterr().err
    assert main(["eval-ads", tiny, "--mode", "online", "--holdout", "0.2"]) == 2
    assert "static only" in capsys.readouterr().err


def test_train_repeated_keeps_every_file(tiny, tmp_path, capsys) -> None:
    a = write(tmp_path / "a.jsonl", [("spam", "出号 低价 私聊 加v"), ("ham", "今天吃什么")] * 3)
    b = write(tmp_path / "b.jsonl", [("spam", "代发 引流 日结"), ("ham", "晚上开黑吗")] * 3)
    outs = []
    for argv in (["--train", a, "--train", b], ["--train", a, b]):
        assert main(["eval-ads", tiny, *argv, "--format", "json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == [dict(outs[1][0], msgs_per_s=outs[0][0]["msgs_per_s"])]
    from console.eval_ads import evaluate
    only_b = evaluate([tiny], [b])
    both = evaluate([tiny], [a, b])
    assert (both[0].tp, both[0].fp, both[0].fn) == (outs[0][0]["tp"], outs[0][0]["fp"], outs[0][0]["fn"])
    assert only_b is not None


def test_policy_and_curve(tmp_path, capsys) -> None:
    f = write(tmp_path / "shop.jsonl", [("spam", "出个满级号 30r"), ("spam", "收永久会员 私聊"), ("ham", "今天出去玩吗"),
                                        ("spam", "谁有加速器卖"), ("ham", "这个bug出来了吗")])
    assert main(["eval-ads", f, "--rules-only", "--format", "json"]) == 0
    plain = json.loads(capsys.readouterr().out)[0]
    assert main(["eval-ads", f, "--rules-only", "--policy", "no_commerce", "--format", "json"]) == 0
    strict = json.loads(capsys.readouterr().out)[0]
    assert (strict["tp"], strict["fp"]) == (3, 0) and plain["tp"] < 3
    assert main(["eval-ads", f, "--curve"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["curve"] == {"5": row["f1"]}  # shorter than 50: only the whole stream
    assert main(["eval-ads", f, "--policy", "no_comerce"]) == 2
    assert "did you mean 'no_commerce'" in capsys.readouterr().err
    assert main(["eval-ads", f, "--curve", "--mode", "static"]) == 2


def test_curve_points() -> None:
    from console.eval_ads import curve_of
    labels = [True, False] * 600
    flagged = [True, False] * 25 + [False] * 1150
    c = curve_of(labels, flagged)
    assert list(c) == [50, 200, 1000, 1200] and c[50] == 1.0 and c[200] == pytest.approx(2 * 25 / (2 * 25 + 75))
