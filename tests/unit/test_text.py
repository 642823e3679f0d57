"""What chat text may hold (handler/text.py): no AWS, no mocks."""

import pytest

from handler import text


@pytest.mark.parametrize("value, found", [
    ("plain words", None),
    ("emoji 😀 and a family 👨\u200d👩\u200d👧", None),  # zero-width joiners inside visible text
    ("Persian \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", None),  # a zero-width non-joiner
    ("right-to-left marks \u200f are not overrides", None),
    ("lines\nand\ttabs", None),
    ("lone high \ud800", "an unpaired surrogate (not valid Unicode)"),
    ("lone low \udfff", "an unpaired surrogate (not valid Unicode)"),
    ("nul \x00", "control characters"),
    ("escape \x1b[2J", "control characters"),
    ("carriage \r return", "control characters"),
    ("delete \x7f", "control characters"),
    ("C1 next line \x85", "control characters"),
    ("C1 CSI \x9b", "control characters"),
    ("override \u202e", "bidirectional override characters"),
    ("embedding \u202a", "bidirectional override characters"),
    ("isolate \u2066", "bidirectional override characters"),
    ("pop isolate \u2069", "bidirectional override characters"),
])
def test_what_text_may_not_hold(value, found):
    assert text.problem(value, line_breaks=True) == found


def test_an_id_may_not_hold_line_breaks_or_tabs():
    assert text.problem("a\nb", line_breaks=False) == "control characters"
    assert text.problem("a\tb", line_breaks=False) == "control characters"
    assert text.problem("id-1", line_breaks=False) is None


@pytest.mark.parametrize("value", [
    "\u200b", "\u2060", "\ufeff", "\u00ad", "\u200b\u2060\ufeff", " \u3000\u00a0", "\u3164", "\u115f\u1160",
    "\u2800", "\ufe0f", "\U000e0100", "\u034f", "\u180e", "\u2028", "",
])
def test_text_with_nothing_visible_is_blank(value):
    assert text.is_blank(value)


@pytest.mark.parametrize("value", ["a", "\u200bx\u200b", ".", "😀", "\u0301"])
def test_text_with_anything_visible_is_not_blank(value):
    assert not text.is_blank(value)


def test_line_breaks_become_newlines():
    assert text.normalize_line_breaks("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"


def test_lone_surrogates_are_replaced_and_pairs_joined():
    assert text.replace_lone_surrogates("a\ud800b\udc00c") == "a\ufffdb\ufffdc"
    assert text.replace_lone_surrogates("\ud83d\ude00") == "😀"  # a pair that arrived as two halves
    assert text.replace_lone_surrogates("fine ✓") == "fine ✓"
