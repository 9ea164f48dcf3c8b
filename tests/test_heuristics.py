"""Gopher quality / repetition, C4 and FineWeb: every rule's reason, the signal values, the configs."""
from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from filters import c4, fineweb, gopher, text_stats
from filters.text_stats import duplicates, ngram_repetition, stats
from pipelines.stages import StageCounts, run_chain

# Original prose: 8 lines, ~130 words, every line ends in a period, nothing repeats.
GOOD = "\n".join([
    "The river had risen during the night and the old mill was quiet again by morning.",
    "Farmers from the valley brought their grain in carts, waiting their turn at the door.",
    "Inside, the miller checked the stones and listened to the wheel with a careful ear.",
    "A good mill, he liked to say, is one that nobody notices until it stops working.",
    "His daughter kept the accounts in a small book that she carried in her apron.",
    "Each sack was weighed twice, once on arrival and once again when the flour left.",
    "In dry years the pond behind the dam shrank, and the work slowed to a crawl.",
    "Still, people came from three villages away, because the flour was fine and honest.",
])


def relaxed(defaults: dict, keep: str) -> dict:
    """A config where every rule but ``keep`` can never fire."""
    cfg = {}
    for k, v in defaults.items():
        if k == keep or not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if k.startswith("max_"):
            # fractions are at most 1 (newlines per word is not a fraction)
            cfg[k] = 1.0 if "ratio" in k and k != "max_newline_word_ratio" else 10**9
        elif k.startswith("min_"):
            cfg[k] = 0
    return cfg


def verdict(stage, text):
    doc = {"id": "d", "text": text}
    return stage.fn(doc)


# ---------------------------------------------------------------- shared statistics


def test_stats_are_computed_once_per_text_and_cached_for_the_next_stage():
    text = GOOD + " unique-suffix-for-cache"
    st = stats(text)
    assert stats(text) is st
    assert st.words == text.split()
    assert stats("".join([text])) is st  # an equal string, not the same object, hits too
    for i in range(text_stats._Cache.SIZE):
        stats(f"other text {i}")
    assert stats(text) is not st  # evicted after SIZE other texts


def test_lines_and_paragraphs():
    st = stats("  a line \n\n\n second\r\n\r\nthird  \n  \n")
    assert st.lines == ["a line", "second", "third"]
    assert st.paragraphs == ["a line", "second", "third"]
    assert stats("one\ntwo").paragraphs == ["one\ntwo"]
    assert duplicates(["a", "bb", "a", "bb", "a"]) == (3, 4)
    assert duplicates(["x"]) == (0, 0)


def _reference(words, top_ns, dup_ns):
    """The definitions written the slow, obvious way, to check the vectorized version."""
    total = sum(map(len, words))
    top, dup = {}, {}
    for n in top_ns:
        c = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
        best = max(c.values(), default=0)
        top[n] = 0.0 if best < 2 else best * max(sum(map(len, g)) for g, k in c.items() if k == best) / total
    for n in dup_ns:
        seen, covered = set(), [False] * len(words)
        for i in range(len(words) - n + 1):
            g = tuple(words[i:i + n])
            if g in seen:
                covered[i:i + n] = [True] * n
            seen.add(g)
        dup[n] = sum(len(w) for w, c in zip(words, covered) if c) / total if total else 0.0
    return top, dup


def test_vectorized_ngram_fractions_equal_the_plain_definition():
    rnd = random.Random(7)
    cases = [GOOD.split(), [], ["a"], ["a", "a"], "x y x y x y".split()]
    for _ in range(200):
        vocab = [f"w{i}" * rnd.randint(1, 3) for i in range(rnd.randint(1, 25))]
        cases.append([rnd.choice(vocab) for _ in range(rnd.randint(0, 150))])
    for words in cases:
        got = ngram_repetition(words, gopher.TOP_NS, gopher.DUP_NS)
        want = _reference(words, gopher.TOP_NS, gopher.DUP_NS)
        for g, w in zip(got, want):
            assert g == pytest.approx(w, abs=1e-12), words


def test_ngram_fraction_values_by_hand():
    # "a b" and "b a" occur 3 times each: 3 x 2 chars of 12 chars in words.
    top, dup = ngram_repetition("a b a b a b a x y z q r".split(), (2,), (5,))
    assert top[2] == pytest.approx(6 / 12)
    # the 5-gram "a b a b a" repeats at position 2 (words 2..6): 5 covered chars of 12.
    assert dup[5] == pytest.approx(5 / 12)
    top, dup = ngram_repetition("one two three four five six".split(), (2,), (5,))
    assert top[2] == 0.0 and dup[5] == 0.0  # nothing repeats


# ---------------------------------------------------------------- Gopher quality


def test_good_text_passes_every_filter_with_paper_defaults():
    stages = [gopher.quality_stage(), gopher.repetition_stage(), c4.stage(), fineweb.stage()]
    counts = StageCounts()
    kept, rejected = run_chain({"id": "g", "text": GOOD}, stages, counts)
    assert rejected is None, rejected and rejected["reason"]
    assert kept["text"] == GOOD  # every line ends in a period and has >= 3 words: C4 removes nothing
    assert kept["gopher_words"] == len(GOOD.split())
    assert kept["gopher_stop_words"] >= 2
    assert kept["c4_sentences"] == 8
    assert kept["fineweb_line_punct_ratio"] == 1.0
    counts.check()


def test_a_real_article_passes(shared_data):
    truth = [json.loads(line) for line in open(shared_data / "extraction/scrapinghub/ground_truth.jsonl")]
    text = next(t["text"] for t in truth if t["id"].startswith("14cc2a0c"))
    for st in (gopher.quality_stage(), gopher.repetition_stage(), fineweb.stage()):
        v = verdict(st, text)
        assert v.keep, (st.name, v.reason, v.signals)


QUALITY_CASES = {
    "gopher.too_short": "Only a few words here.",
    "gopher.too_long": "the cat sat down. " * 25_001,
    "gopher.word_length": " ".join(["to be or an ox"] * 20),
    "gopher.symbols": GOOD + " #" * 30,
    "gopher.bullet_lines": "\n".join(f"- the item number {i} of the list with words" for i in range(12)),
    "gopher.ellipsis_lines": "\n".join(f"and then the story goes on and on, part {w} ..." for w in "abcdefghij"),
    "gopher.few_alpha_words": GOOD + " 1234" * 60,
    "gopher.few_stop_words": " ".join(f"Bright lanterns glow over quiet harbour number{i}." for i in range(12)),
}


@pytest.mark.parametrize("reason", sorted(QUALITY_CASES))
def test_each_gopher_quality_rule_fires_with_the_paper_thresholds(reason):
    v = verdict(gopher.quality_stage(), QUALITY_CASES[reason])
    assert (v.keep, v.reason) == (False, reason), v.signals
    assert set(v.signals) == set(gopher.QUALITY_COLUMNS)


def test_gopher_quality_signal_values():
    text = "The cat #sat on the mat...\n* and the dog was with it ...\nit is 42 here"
    v = gopher.quality(text)
    s = v.signals
    words = text.split()
    assert s["gopher_words"] == len(words) == 18
    assert s["gopher_mean_word_length"] == pytest.approx(sum(map(len, words)) / 18)
    assert s["gopher_symbol_word_ratio"] == pytest.approx(2 / 18)  # 2 ellipses beat 1 hash
    assert s["gopher_bullet_lines_ratio"] == pytest.approx(1 / 3)
    assert s["gopher_ellipsis_lines_ratio"] == pytest.approx(2 / 3)
    assert s["gopher_alpha_words_ratio"] == pytest.approx(15 / 18)  # '*', '...', '42' have no letter
    assert s["gopher_stop_words"] == 5  # The, the, and, the, with (case-folded, counted per occurrence)
    assert v.reason == "gopher.too_short"


def test_mean_word_length_upper_bound():
    text = " ".join(["extraordinarily"] * 60) + " the and"
    assert gopher.quality(text).reason == "gopher.word_length"


# ---------------------------------------------------------------- Gopher repetition


def _lines(n, tag):
    return [f"Line {tag}{i} tells of the mill, the river and the grain of year {i}." for i in range(n)]


short_para = "A short paragraph repeated several times."
REPETITION_CASES = {
    "gopher.dup_lines": "\n".join(_lines(6, "a") + ["The same line again and again."] * 5),
    "gopher.dup_paragraphs": "\n\n".join(["\n".join(_lines(5, f"p{j}")) for j in range(5)] + [short_para] * 5),
    "gopher.dup_line_chars": "\n".join(_lines(8, "b") + ["A very long line " + "with many different words " * 12] * 2),
    "gopher.dup_paragraph_chars": "\n\n".join(["\n".join(_lines(3, "c")), "\n".join(_lines(3, "d")),
                                              "\n".join(_lines(3, "e"))] * 2),
}
for n in gopher.TOP_NS:
    REPETITION_CASES[f"gopher.top_{n}gram"] = " ".join(["spam eggs ham toast"] * 40 + GOOD.split())
for n in gopher.DUP_NS:
    REPETITION_CASES[f"gopher.dup_{n}gram"] = " ".join(GOOD.split()[:40] * 3)


@pytest.mark.parametrize("reason", sorted(REPETITION_CASES))
def test_each_gopher_repetition_rule_fires_alone(reason):
    rule = reason.split(".", 1)[1]
    key = {"dup_lines": "max_dup_line_ratio", "dup_paragraphs": "max_dup_para_ratio",
           "dup_line_chars": "max_dup_line_char_ratio", "dup_paragraph_chars": "max_dup_para_char_ratio"}.get(
        rule, f"max_{rule}_ratio")
    st = gopher.repetition_stage(relaxed(gopher.REPETITION_DEFAULTS, key))
    v = verdict(st, REPETITION_CASES[reason])
    assert (v.keep, v.reason) == (False, reason), v.signals
    assert set(v.signals) == set(gopher.REPETITION_COLUMNS)
    assert all(x is not None for x in v.signals.values())


@pytest.mark.parametrize("reason", ["gopher.dup_lines", "gopher.dup_paragraphs", "gopher.dup_line_chars"])
def test_line_and_paragraph_rules_fire_with_paper_defaults(reason):
    v = verdict(gopher.repetition_stage(), REPETITION_CASES[reason])
    assert v.reason == reason, v.signals


def test_repetition_signal_values():
    text = "alpha beta\nalpha beta\ngamma delta\n\nalpha beta\ngamma delta"
    s = gopher.repetition(text).signals
    assert s["gopher_dup_line_ratio"] == pytest.approx(3 / 5)
    assert s["gopher_dup_line_char_ratio"] == pytest.approx((10 + 10 + 11) / len(text))
    assert s["gopher_dup_para_ratio"] == 0.0  # two different paragraphs
    words = text.split()
    assert s["gopher_top_2gram_ratio"] == pytest.approx(3 * 9 / len(text))  # of the document's characters
    assert ngram_repetition(words, (2,), (5,))[0][2] == pytest.approx(3 * 9 / sum(map(len, words)))


# ---------------------------------------------------------------- C4


def test_c4_removes_lines_and_rewrites_text():
    noisy = "\n".join(["Home | News | Contact", "Please enable JavaScript to view the comments.", "Short one.",
                       GOOD, "Read more"])
    v = verdict(c4.stage(), noisy)
    assert v.keep and v.text == GOOD
    # removed: no end mark (menu, "Read more"), the Javascript warning, "Short one." (2 words)
    assert v.signals == {"c4_lines_removed": 4, "c4_sentences": 8}


def test_c4_keeps_lines_when_rules_are_off():
    text = GOOD + "\nA line without an end mark but with words"
    v = verdict(c4.stage({"remove_no_terminal_punct_lines": False}), text)
    assert v.keep and v.text == text and v.signals["c4_lines_removed"] == 0
    js = GOOD + "\nThis site needs javascript to work."
    assert verdict(c4.stage({"remove_javascript_lines": False}), js).text == js


@pytest.mark.parametrize("reason,text", [
    ("c4.lorem_ipsum", GOOD + "\nLorem ipsum dolor sit amet, consectetur."),
    ("c4.curly_bracket", GOOD + "\nfunction f() { return 1; }."),
    ("c4.too_few_sentences", "One sentence here. Two sentences here.\nThree is enough? No."),
])
def test_each_c4_page_rule(reason, text):
    v = verdict(c4.stage(), text)
    assert (v.keep, v.reason) == (False, reason)


def test_c4_page_rules_can_be_turned_off():
    text = GOOD + "\nLorem ipsum dolor sit amet, consectetur {x}."
    assert verdict(c4.stage({"drop_lorem_ipsum": False, "drop_curly_bracket": False}), text).keep


def test_c4_bad_words_file(tmp_path):
    words = tmp_path / "bad.txt"
    words.write_text("# comment\nflour\nold mill\n", encoding="utf-8")
    st = c4.stage({"bad_words_file": str(words)})
    assert verdict(st, GOOD).reason == "c4.bad_words"  # 'flour' and the phrase 'old mill'
    clean = GOOD.replace("flour", "meal").replace("old mill", "mill")
    assert verdict(st, clean).keep
    phrase_only = tmp_path / "phrase.txt"
    phrase_only.write_text("old mill\n", encoding="utf-8")
    assert verdict(c4.stage({"bad_words_file": str(phrase_only)}), GOOD).reason == "c4.bad_words"
    with pytest.raises(ValueError, match="bad_words_file"):
        c4.stage({"bad_words_file": str(tmp_path / "missing.txt")})


def test_sentence_count():
    assert c4.count_sentences("It costs 3.5 dollars. Really? Yes! \"Done.\" e.g.x") == 4


# ---------------------------------------------------------------- FineWeb


FINEWEB_CASES = {
    "fineweb.line_punct": "\n".join(f"A heading without an end mark number {i}" for i in range(10)),
    "fineweb.short_lines": "\n".join([f"Tiny {i}." for i in range(20)] + [GOOD]),
    "fineweb.dup_line_chars": GOOD + "\n" + GOOD.split("\n")[0],
    "fineweb.list_like": "\n".join(f"{w} is here." for w in "abcdefghijklmnopqrstuvwxyz"),
    "fineweb.empty": "   \n  ",
}


@pytest.mark.parametrize("reason", sorted(FINEWEB_CASES))
def test_each_fineweb_rule(reason):
    key = {"fineweb.line_punct": "min_line_punct_ratio", "fineweb.short_lines": "max_short_line_ratio",
           "fineweb.dup_line_chars": "max_char_dup_ratio", "fineweb.list_like": "max_newline_word_ratio"}.get(reason)
    st = fineweb.stage(relaxed(fineweb.DEFAULTS, key) if key else {})
    v = verdict(st, FINEWEB_CASES[reason])
    assert (v.keep, v.reason) == (False, reason), v.signals
    assert set(v.signals) == set(fineweb.COLUMNS)


@pytest.mark.parametrize("reason", ["fineweb.line_punct", "fineweb.short_lines", "fineweb.dup_line_chars"])
def test_fineweb_rules_fire_with_defaults(reason):
    assert verdict(fineweb.stage(), FINEWEB_CASES[reason]).reason == reason


def test_fineweb_signal_values():
    text = "First line is long enough to count.\nshort\nFirst line is long enough to count.\nno end"
    s = fineweb.check(text).signals
    assert s["fineweb_line_punct_ratio"] == pytest.approx(2 / 4)
    assert s["fineweb_short_line_ratio"] == pytest.approx(2 / 4)
    assert s["fineweb_char_dup_ratio"] == pytest.approx(35 / (len(text) - 3))
    assert s["fineweb_newline_word_ratio"] == pytest.approx(3 / len(text.split()))


# ---------------------------------------------------------------- configs and the fixed interface


@pytest.mark.parametrize("factory,config,match", [
    (gopher.quality_stage, {"min_words": -3}, r"'min_words' must be >= 0 \(got -3\)"),
    (gopher.quality_stage, {"min_words": 2.5}, r"'min_words' must be an integer"),
    (gopher.quality_stage, {"min_wrods": 3}, r"unknown config key"),
    (gopher.repetition_stage, {"max_dup_5gram_ratio": "high"}, r"'max_dup_5gram_ratio' must be a number"),
    (c4.stage, {"min_sentences": True}, r"'min_sentences' must be an integer"),
    (c4.stage, {"drop_lorem_ipsum": "yes"}, r"'drop_lorem_ipsum' must be true or false"),
    (fineweb.stage, {"min_line_punct_ratio": 1.5}, r"'min_line_punct_ratio' must be <= 1"),
])
def test_bad_config_values_name_the_key(factory, config, match):
    with pytest.raises(ValueError, match=match):
        factory(config)


@pytest.mark.parametrize("module", [gopher, c4, fineweb])
def test_reason_codes_are_documented_and_prefixed(module):
    prefix = {"gopher": "gopher.", "c4": "c4.", "fineweb": "fineweb."}[module.__name__.split(".")[1]]
    assert module.REASONS and all(k.startswith(prefix) and v for k, v in module.REASONS.items())
    assert all(t in ("int", "float", "str", "bool") for t in module.COLUMNS.values())
