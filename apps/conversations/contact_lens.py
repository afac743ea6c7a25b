"""Contact Lens post-contact analysis files (calls and chats) read into a `Conversation`.

Files sit in the instance bucket as `Analysis/Voice/YYYY/MM/DD/<contactId>_analysis_<time>.json`
(and `Analysis/Chat/…`; redacted twins under `…/Redacted/…` named `_analysis_redacted_`). Only schema
versions this reader knows are accepted: a new version is quarantined rather than half-read.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from apps.conversations.conversation import (
    AGENT,
    CUSTOMER,
    AnalysisError,
    Conversation,
    Turn,
    check_timings,
)

VOICE_VERSIONS = ("1.0.0", "1.1.0")
CHAT_VERSIONS = ("CHAT-2022-11-30",)
PATH_PATTERN = re.compile(
    r"(?:^|/)Analysis/(?P<channel>Voice|Chat)/(?:Redacted/)?\d{4}/\d{2}/\d{2}/"
    r"(?P<contact>[^/]+?)_analysis(?P<redacted>_redacted)?_(?P<stamp>[^/]+)\.json$")
SUMMARY_MARKS = {"IssuesDetected": "issues", "OutcomesDetected": "outcomes", "ActionItemsDetected": "action_items"}
CHAT_LABEL_SCORE = {"POSITIVE": 5.0, "NEGATIVE": -5.0, "NEUTRAL": 0.0, "MIXED": 0.0}


def layout(path: str) -> re.Match[str] | None:
    """The contact id, channel and time a file's place in the bucket tells, or None elsewhere."""
    return PATH_PATTERN.search(path)


def read(data: Any, *, file: str) -> Conversation:
    if not isinstance(data, dict):
        raise AnalysisError("file is not a JSON object")
    version = str(data.get("Version", ""))
    channel = str(data.get("Channel", "")).upper()
    if channel == "VOICE" and version in VOICE_VERSIONS:
        conversation = _voice(data, file)
    elif channel == "CHAT" and version in CHAT_VERSIONS:
        conversation = _chat(data, file)
    else:
        raise AnalysisError(f"unknown schema version {version!r} for channel {channel!r} (supported: voice "
                            f"{', '.join(VOICE_VERSIONS)}; chat {', '.join(CHAT_VERSIONS)})")
    status = str(data.get("JobStatus", "COMPLETED"))
    if status != "COMPLETED":
        raise AnalysisError(f"JobStatus is {status!r}: the analysis did not complete")
    conversation.version = version
    conversation.language = str(data.get("LanguageCode", ""))
    conversation.categories = _categories(data.get("Categories") or {}, conversation)
    return conversation


def _contact_id(data: dict[str, Any], file: str) -> str:
    meta = data.get("CustomerMetadata") or {}
    contact_id = str(meta.get("ContactId", "")) if isinstance(meta, dict) else ""
    if not contact_id:
        found = layout(file) or re.search(r"(?P<contact>[^/]+?)_analysis", file)
        contact_id = found.group("contact") if found else ""
    if not contact_id:
        raise AnalysisError("no contact id: neither CustomerMetadata.ContactId nor a <contactId>_analysis_ file name")
    return contact_id


def _roles(data: dict[str, Any]) -> dict[str, str]:
    roles = {}
    for index, participant in enumerate(data.get("Participants") or []):
        if not isinstance(participant, dict) or "ParticipantRole" not in participant:
            raise AnalysisError(f"Participants[{index}]: no ParticipantRole")
        role = str(participant["ParticipantRole"])
        roles[str(participant.get("ParticipantId", role))] = role
    return roles


def _voice(data: dict[str, Any], file: str) -> Conversation:
    roles = _roles(data)
    turns = []
    for index, item in enumerate(_list(data, "Transcript")):
        try:
            participant = str(item["ParticipantId"])
            turn = Turn(position=index, role=roles.get(participant, participant),
                        begin_ms=int(item["BeginOffsetMillis"]), end_ms=int(item["EndOffsetMillis"]),
                        content=str(item["Content"]), turn_id=str(item.get("Id", "")), sentiment=item.get("Sentiment"))
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisError(f"Transcript[{index}]: missing or unreadable field {exc}") from exc
        turn.marks = _marks(item, turn.content)
        turns.append(turn)
    check_timings(turns)
    traits = data.get("ConversationCharacteristics") or {}
    conversation = Conversation(contact_id=_contact_id(data, file), channel="voice", source="contact-lens",
                                turns=turns, file=file)
    sentiment = traits.get("Sentiment") or {}
    conversation.overall = {k: float(v) for k, v in (sentiment.get("OverallSentiment") or {}).items()}
    quarters = ((sentiment.get("SentimentByPeriod") or {}).get("QUARTER") or {})
    conversation.quarters = {role: [{"begin": int(q["BeginOffsetMillis"]), "end": int(q["EndOffsetMillis"]),
                                     "score": float(q["Score"])} for q in periods]
                            for role, periods in quarters.items()}
    interruptions = traits.get("Interruptions") or {}
    conversation.interruptions = {
        "count": int(interruptions.get("TotalCount", 0)), "total_ms": int(interruptions.get("TotalTimeMillis", 0)),
        "by_role": {role: len(items)
                    for role, items in (interruptions.get("InterruptionsByInterrupter") or {}).items()}}
    conversation.non_talk_ms = int((traits.get("NonTalkTime") or {}).get("TotalTimeMillis", 0))
    talk = (traits.get("TalkTime") or {}).get("DetailsByParticipant") or {}
    conversation.talk_time_ms = {role: int(v.get("TotalTimeMillis", 0)) for role, v in talk.items()}
    speed = (traits.get("TalkSpeed") or {}).get("DetailsByParticipant") or {}
    conversation.talk_speed_wpm = {role: float(v.get("AverageWordsPerMinute", 0)) for role, v in speed.items()}
    conversation.duration_ms = int(traits.get("TotalConversationDurationMillis")
                                   or max((t.end_ms for t in turns), default=0))
    summary = ((traits.get("ContactSummary") or {}).get("PostContactSummary") or {})
    conversation.summary = str(summary.get("Content", ""))
    conversation.summary_items = _summary_from_marks(turns)
    return conversation


def _chat(data: dict[str, Any], file: str) -> Conversation:
    roles = _roles(data)
    traits = data.get("ConversationCharacteristics") or {}
    sentiment = traits.get("Sentiment") or {}
    labels = {str(i.get("Id")): (group.get("Sentiment"), group.get("ProgressiveScore"))
              for group in sentiment.get("DetailsByTranscriptItemGroup") or []
              for i in group.get("TranscriptItems") or []}
    turns, start = [], None
    for index, item in enumerate(_list(data, "Transcript")):
        try:
            when = int(datetime.fromisoformat(str(item["AbsoluteTime"]).replace("Z", "+00:00")).timestamp() * 1000)
        except (KeyError, ValueError) as exc:
            raise AnalysisError(f"Transcript[{index}]: AbsoluteTime missing or unreadable ({exc})") from exc
        start = when if start is None else start  # offsets count from the chat's first item (a join)
        if item.get("Type") != "MESSAGE" or not item.get("Content"):
            continue
        role = str(item.get("ParticipantRole") or roles.get(str(item.get("ParticipantId")), "SYSTEM"))
        label, _ = labels.get(str(item.get("Id")), (None, None))
        turns.append(Turn(position=index, role=role, begin_ms=when - start, end_ms=when - start,
                          content=str(item["Content"]), turn_id=str(item.get("Id", "")), sentiment=label))
    check_timings(turns)
    conversation = Conversation(contact_id=_contact_id(data, file), channel="chat", source="contact-lens",
                                turns=turns, file=file, started_ms=start)
    overall = sentiment.get("OverallSentiment") or {}
    overall = overall.get("DetailsByParticipantRole", overall) if isinstance(overall, dict) else {}
    conversation.overall = {k: float(v) for k, v in overall.items() if isinstance(v, (int, float))}
    conversation.duration_ms = max((t.end_ms for t in turns), default=0)
    conversation.quarters = chat_quarters(turns)
    conversation.interruptions = {"count": 0, "total_ms": 0, "by_role": {}}
    conversation.summary_items = _chat_summary(traits.get("ContactSummary") or {}, turns)
    return conversation


def chat_quarters(turns: list[Turn]) -> dict[str, list[dict[str, float]]]:
    """Chats have no per-period sentiment in their file: quarters of the chat's length from the
    per-message labels (positive 5, negative -5), as the call file gives them."""
    from apps.conversations.analytics import quarters

    for turn in turns:
        if turn.score is None and turn.sentiment:
            turn.score = CHAT_LABEL_SCORE.get(turn.sentiment, 0.0)
    return quarters(turns)


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if not isinstance(items, list):
        raise AnalysisError(f"{key}: expected a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise AnalysisError(f"{key}[{index}]: expected an object")
    return items


def _marks(item: dict[str, Any], content: str) -> dict[str, list[str]]:
    marks: dict[str, list[str]] = {}
    for key, name in SUMMARY_MARKS.items():
        for found in item.get(key) or []:
            offsets = found.get("CharacterOffsets") or {}
            text = content[int(offsets.get("BeginOffsetChar", 0)):int(offsets.get("EndOffsetChar", len(content)))]
            marks.setdefault(name, []).append(text.strip())
    return marks


def _summary_from_marks(turns: list[Turn]) -> dict[str, list[str]]:
    items: dict[str, list[str]] = {}
    for turn in turns:
        for name, texts in turn.marks.items():
            items.setdefault(name, []).extend(texts)
    return items


def _chat_summary(summary: dict[str, Any], turns: list[Turn]) -> dict[str, list[str]]:
    by_id = {t.turn_id: t for t in turns}
    items: dict[str, list[str]] = {}
    for detected in summary.get("SummaryItemsDetected") or []:
        for key, name in SUMMARY_MARKS.items():
            for found in detected.get(key) or []:
                for ref in found.get("TranscriptItems") or []:
                    turn = by_id.get(str(ref.get("Id")))
                    if turn is None:
                        continue
                    offsets = ref.get("CharacterOffsets") or {}
                    text = turn.content[int(offsets.get("BeginOffsetChar", 0)):
                                        int(offsets.get("EndOffsetChar", len(turn.content)))].strip()
                    turn.marks.setdefault(name, []).append(text)
                    items.setdefault(name, []).append(text)
    return items


def _categories(categories: dict[str, Any], conversation: Conversation) -> dict[str, list[dict[str, Any]]]:
    details = categories.get("MatchedDetails") or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for name in categories.get("MatchedCategories") or []:
        points = (details.get(name) or {}).get("PointsOfInterest") or []
        out[str(name)] = [_point(p, conversation) for p in points]
    return out


def _point(point: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    if "BeginOffsetMillis" in point:
        return {"begin_ms": int(point["BeginOffsetMillis"]), "end_ms": int(point["EndOffsetMillis"])}
    ids = [str(i.get("Id")) for i in point.get("TranscriptItems") or []]
    times = [t.begin_ms for t in conversation.turns if t.turn_id in ids]
    return {"turn_ids": ids, "begin_ms": min(times, default=0), "end_ms": max(times, default=0)}


__all__ = ["AGENT", "CUSTOMER", "layout", "read"]
