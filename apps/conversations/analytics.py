"""Local conversation analytics for transcripts that have no Contact Lens analysis.

Produces what Contact Lens gives, in the same shape: a sentiment label and score per turn (VADER,
a lexicon and rule-based model whose lexicon ships inside its package, so nothing is downloaded),
overall and per-quarter sentiment per participant on Contact Lens's -5…5 scale, interruptions and
non-talk time from turn timings, talk time and speed, and categories from the rules people edit
in the admin (phrases, which speaker, where in the contact, negation — as Contact Lens rules work).
Everything here is pure: turns and rules in, numbers out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from apps.conversations.conversation import Conversation, Turn

POSITIVE_AT = 0.05  # VADER's own thresholds on the compound score
NEGATIVE_AT = -0.05
MIXED_AT = 0.25  # strong positive and strong negative parts in one turn
NON_TALK_MIN_MS = 3000  # a silence shorter than this is a pause, not non-talk time
SCALE = 5.0  # Contact Lens scores run from -5 to 5


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def turn_sentiment(text: str) -> tuple[str, float]:
    """(label, score on -5…5) of one turn."""
    scores = _analyzer().polarity_scores(text)
    compound = float(scores["compound"])
    if scores["pos"] >= MIXED_AT and scores["neg"] >= MIXED_AT:
        return "MIXED", round(compound * SCALE, 3)
    if compound >= POSITIVE_AT:
        return "POSITIVE", round(compound * SCALE, 3)
    if compound <= NEGATIVE_AT:
        return "NEGATIVE", round(compound * SCALE, 3)
    return "NEUTRAL", round(compound * SCALE, 3)


@dataclass(frozen=True)
class Rule:
    """One category rule. `where` is anywhere, first (within the first `seconds` of the contact)
    or last (within its last `seconds`); `negate` matches a contact in which none of the phrases
    is said (in that scope), as Contact Lens's "not mentioned" condition."""

    category: str
    phrases: tuple[str, ...]
    speaker: str = "ANY"  # ANY, CUSTOMER or AGENT
    where: str = "anywhere"
    seconds: int = 0
    negate: bool = False


def analyse(conversation: Conversation, rules: list[Rule]) -> Conversation:
    """Fill the conversation's analysis from its turns (in place; returns it)."""
    turns = conversation.turns
    for turn in turns:
        turn.sentiment, turn.score = turn_sentiment(turn.content)
    conversation.source = "local"
    conversation.duration_ms = max((t.end_ms for t in turns), default=0)
    conversation.overall = overall(turns)
    conversation.quarters = quarters(turns)
    conversation.interruptions = interruptions(turns)
    conversation.non_talk_ms = non_talk_ms(turns) if conversation.channel == "voice" else 0
    conversation.talk_time_ms, conversation.talk_speed_wpm = talk(turns)
    conversation.categories = categorise(turns, rules, conversation.duration_ms)
    return conversation


def overall(turns: list[Turn]) -> dict[str, float]:
    by_role: dict[str, list[float]] = {}
    for turn in turns:
        if turn.score is not None:
            by_role.setdefault(turn.role, []).append(turn.score)
    return {role: round(sum(v) / len(v), 2) for role, v in sorted(by_role.items())}


def quarters(turns: list[Turn]) -> dict[str, list[dict[str, float]]]:
    """Per participant, their part of the contact (start to their last word) cut in four; each
    quarter's score is the mean of the turns that begin in it (0 when they said nothing there)."""
    out: dict[str, list[dict[str, float]]] = {}
    for role in sorted({t.role for t in turns}):
        mine = [t for t in turns if t.role == role and t.score is not None]
        if not mine:
            continue
        end = max(t.end_ms for t in mine) or 1
        bounds = [round(end * i / 4) for i in range(5)]
        rows = []
        for q in range(4):
            inside = [t.score for t in mine
                      if bounds[q] <= t.begin_ms < bounds[q + 1] or (q == 3 and t.begin_ms == end)]
            scores = [s for s in inside if s is not None]
            rows.append({"begin": bounds[q], "end": bounds[q + 1],
                         "score": round(sum(scores) / len(scores), 2) if scores else 0.0})
        out[role] = rows
    return out


def interruptions(turns: list[Turn]) -> dict[str, Any]:
    """A turn that begins before another participant's turn has ended interrupts it."""
    count, total = 0, 0
    by_role: dict[str, int] = {}
    latest: Turn | None = None
    for turn in turns:
        if latest is not None and latest.role != turn.role and turn.begin_ms < latest.end_ms:
            count += 1
            total += min(latest.end_ms, turn.end_ms) - turn.begin_ms
            by_role[turn.role] = by_role.get(turn.role, 0) + 1
        if latest is None or turn.end_ms >= latest.end_ms:
            latest = turn
    return {"count": count, "total_ms": total, "by_role": by_role}


def non_talk_ms(turns: list[Turn]) -> int:
    """Silences of at least NON_TALK_MIN_MS between the end of all talk so far and the next turn."""
    total, talked_until = 0, None
    for turn in sorted(turns, key=lambda t: t.begin_ms):
        if talked_until is not None and turn.begin_ms - talked_until >= NON_TALK_MIN_MS:
            total += turn.begin_ms - talked_until
        talked_until = turn.end_ms if talked_until is None else max(talked_until, turn.end_ms)
    return total


def talk(turns: list[Turn]) -> tuple[dict[str, int], dict[str, float]]:
    time: dict[str, int] = {}
    words: dict[str, int] = {}
    for turn in turns:
        time[turn.role] = time.get(turn.role, 0) + turn.end_ms - turn.begin_ms
        words[turn.role] = words.get(turn.role, 0) + len(turn.content.split())
    speed = {role: float(round(words[role] / (ms / 60_000))) for role, ms in time.items() if ms > 0}
    return {r: v for r, v in time.items() if v > 0}, speed


def _normalise(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9']+", " ", text.lower()).strip() + " "


def _in_scope(turn: Turn, rule: Rule, duration_ms: int) -> bool:
    if rule.speaker != "ANY" and turn.role != rule.speaker:
        return False
    if rule.where == "first":
        return turn.begin_ms < rule.seconds * 1000
    if rule.where == "last":
        return turn.end_ms > duration_ms - rule.seconds * 1000
    return True


def categorise(turns: list[Turn], rules: list[Rule], duration_ms: int) -> dict[str, list[dict[str, Any]]]:
    """Matched categories with their points of interest (the turns where a phrase was said; none
    for a negated rule, which matches the contact as a whole)."""
    matched: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        phrases = [_normalise(p) for p in rule.phrases if p.strip()]
        hits = [t for t in turns if _in_scope(t, rule, duration_ms)
                and any(p in _normalise(t.content) for p in phrases)]
        if rule.negate and not hits:
            matched.setdefault(rule.category, [])
        elif not rule.negate and hits:
            matched.setdefault(rule.category, []).extend(
                {"begin_ms": t.begin_ms, "end_ms": t.end_ms, "turn_ids": [t.turn_id]} for t in hits)
    return matched
