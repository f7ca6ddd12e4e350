"""Words of a text in a language with or without spaces between words.

Chinese and Japanese are written without spaces, so ``text.split()`` gives one
"word" per clause. The lexical parts of the knowledge base (the paraphrases the
answerability rule calibrates on, the suggested tags) take their units from
here instead: a run of letters or digits is one unit, and each Chinese
character (Han, kana, Hangul) is a unit of its own. Characters, not words from a
segmenter: they need no dictionary, and most Chinese words are one or two
characters, so character bigrams (:func:`cjk_bigrams`) stand in for words.
"""

from __future__ import annotations

import re

_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_UNITS = re.compile(f"[{_CJK_CLASS}]|[^\\s{_CJK_CLASS}]+")
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")

CHINESE_STOP = frozenset("的了吗呢吧啊呀么是我你您他她它们在和与及也都就请个这那有没不会能要把被让给对从")
"""Function characters of Chinese: left out of the content a paraphrase drops and of the tags."""


def has_cjk(text: str) -> bool:
    """Whether ``text`` has any Chinese, Japanese or Korean character."""
    return _CJK.search(text) is not None


def units(text: str) -> list[str]:
    """The text's words: space-separated runs, with each CJK character a unit of its own."""
    return _UNITS.findall(text)


def join_units(parts: list[str]) -> str:
    """``parts`` as text again: a space between two units unless either side is a CJK character."""
    out = ""
    for part in parts:
        if out and not (_CJK.fullmatch(out[-1]) or _CJK.match(part)):
            out += " "
        out += part
    return out


def cjk_bigrams(text: str) -> list[str]:
    """The character pairs of each run of CJK characters, leaving out pairs with a function character
    (:data:`CHINESE_STOP`)."""
    return [run[i:i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)
            if run[i] not in CHINESE_STOP and run[i + 1] not in CHINESE_STOP]
