"""Names as search words: folded for case and accents, so "Zoë" is found by "zoe" and "ZOE"."""
from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")
MAX_WORD = 64  # the index column's width; longer words are indexed and searched by their start


def name_words(text: str) -> list[str]:
    """The distinct words of a name or a query, folded, in order of appearance."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return list(dict.fromkeys(w[:MAX_WORD] for w in WORD.findall(plain)))
