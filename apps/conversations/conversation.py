"""The one shape every conversation takes in the hub, whichever format it came in.

Contact Lens analyses, chat exports and Amazon Transcribe output are all read into a `Conversation`
(pure data, nothing stored): its turns and, once analysed, per-participant sentiment (overall and by
quarter), interruptions, non-talk time, talk time and speed, matched categories with their points of
interest, and the contact summary. Readers raise `AnalysisError` with the position of what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUSTOMER, AGENT, SYSTEM = "CUSTOMER", "AGENT", "SYSTEM"
ROLES = (CUSTOMER, AGENT, SYSTEM)
LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")


class AnalysisError(ValueError):
    """A file that cannot become a conversation; the message says where (`Transcript[3]: …`)."""


@dataclass
class Turn:
    position: int
    role: str
    begin_ms: int
    end_ms: int
    content: str
    turn_id: str = ""
    sentiment: str | None = None  # POSITIVE, NEGATIVE, NEUTRAL, MIXED
    score: float | None = None  # -5 … 5 where the analysis gives one
    marks: dict[str, list[str]] = field(default_factory=dict)  # issues, outcomes, action_items found here


@dataclass
class Conversation:
    contact_id: str
    channel: str  # voice | chat
    source: str  # contact-lens | local
    turns: list[Turn]
    file: str = ""
    language: str = ""
    version: str = ""
    started_ms: int | None = None  # absolute start, when the file says it (chats, generic transcripts)
    identity: dict[str, str] = field(default_factory=dict)  # customer_id / phone / email of a generic transcript
    duration_ms: int = 0
    overall: dict[str, float] = field(default_factory=dict)  # role -> -5 … 5
    quarters: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # role -> 4 × {begin, end, score}
    interruptions: dict[str, Any] = field(default_factory=dict)  # count, total_ms, by_role
    non_talk_ms: int = 0
    talk_time_ms: dict[str, int] = field(default_factory=dict)
    talk_speed_wpm: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> points of interest
    summary: str = ""
    summary_items: dict[str, list[str]] = field(default_factory=dict)  # issues / outcomes / action_items

    def characteristics(self) -> dict[str, Any]:
        """The per-contact numbers as one JSON-ready mapping (stored, served, put on the graph)."""
        return {"overall": self.overall, "quarters": self.quarters, "interruptions": self.interruptions,
                "non_talk_ms": self.non_talk_ms, "talk_time_ms": self.talk_time_ms,
                "talk_speed_wpm": self.talk_speed_wpm, "duration_ms": self.duration_ms}


def check_timings(turns: list[Turn]) -> None:
    """Turns must not run backwards, and one participant's turns must not overlap each other (turns
    of different participants may: that is an interruption)."""
    last_end: dict[str, tuple[int, int]] = {}
    previous_begin = -1
    for turn in turns:
        where = f"Transcript[{turn.position}]"
        if turn.begin_ms < 0 or turn.end_ms < turn.begin_ms:
            raise AnalysisError(f"{where}: turn ends ({turn.end_ms} ms) before it begins ({turn.begin_ms} ms)")
        if turn.begin_ms < previous_begin:
            raise AnalysisError(f"{where}: turn begins at {turn.begin_ms} ms, before the turn above it "
                                f"({previous_begin} ms)")
        seen = last_end.get(turn.role)
        if seen is not None and turn.begin_ms < seen[1]:
            raise AnalysisError(f"{where}: overlapping turns: {turn.role} turn at {turn.begin_ms} ms begins "
                                f"before their turn Transcript[{seen[0]}] ends ({seen[1]} ms)")
        last_end[turn.role] = (turn.position, turn.end_ms)
        previous_begin = turn.begin_ms
