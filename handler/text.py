"""What chat text may hold, with no I/O: the checks a message and a client message id pass, and how
a stored string that fails them is still sent.

Refused anywhere:
- lone UTF-16 surrogates: `"\\ud800"` is valid JSON but not Unicode; a frame holding one cannot be
  encoded as UTF-8, so one stored message would make every `welcome` and `history` of its room fail;
- C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F) other than newline and tab (which
  messages may hold): they move terminals' cursors, ring bells, or show as nothing;
- the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make text read in
  another order than it was written (a file name that ends in "txt.exe" shown as "exe.txt").
Refused as empty: a message with nothing visible once white space, format characters (U+200B,
U+2060, U+FEFF, U+00AD, ...) and the letters that draw nothing (Hangul fillers, braille blank,
variation selectors) are left out. They stay in a message that has visible text too: a zero-width
joiner builds emoji, a zero-width non-joiner is part of Persian spelling.
"""

from __future__ import annotations

import re
import unicodedata

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab (09) and newline (0a)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BIDI_OVERRIDE = re.compile("[\u202a-\u202e\u2066-\u2069]")

# Categories that draw nothing: format characters, separators (spaces, line and paragraph), controls.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})
# Letters and marks that render as blank space although their category says otherwise.
_BLANK_CHARACTERS = frozenset(
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u180b\u180c\u180d\u180e\u180f"  # Mongolian variation selectors and vowel separator
    "\u2800"  # braille pattern blank
) | frozenset(map(chr, range(0xFE00, 0xFE10))) | frozenset(map(chr, range(0xE0100, 0xE01F0)))


def problem(text: str, *, line_breaks: bool) -> str | None:
    """What `text` holds that it may not, in a few words for an error frame; None if nothing.

    `line_breaks`: newline and tab are allowed (message text), or are controls like the rest (ids).
    """
    if _SURROGATE.search(text):
        return "an unpaired surrogate (not valid Unicode)"
    if (_CONTROL_IN_TEXT if line_breaks else _CONTROL).search(text):
        return "control characters"
    if _BIDI_OVERRIDE.search(text):
        return "bidirectional override characters"
    return None


def normalize_line_breaks(text: str) -> str:
    """CR LF and a lone CR become LF: a carriage return is a control character, a line break is not."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_blank(text: str) -> bool:
    """True when nothing in `text` would be visible."""
    return all(char in _BLANK_CHARACTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


def replace_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD; a high and low surrogate next to each
    other become the one character they stand for."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
