"""Plain transcripts read into a `Conversation` (no analysis yet: local analytics fills it in).

Three shapes are recognised by their keys:
- Amazon Transcribe output (`results` with `items`, speakers from `speaker_labels` or `channel_labels`,
  or `audio_segments`): the contact id is the job name (`jobName`), or the file name;
- Amazon Transcribe Call Analytics output and Amazon Connect chat transcripts (`Transcript` items with
  `ParticipantRole`, and `BeginOffsetMillis` or `AbsoluteTime`); the contact id is `ContactId`,
  `JobName` or the file name;
- a generic export from any contact-centre platform: `{"contact_id", "channel", "started_at",
  "customer_id" | "phone" | "email", "turns": [{"speaker", "text", "begin_ms", "end_ms"}]}`. One with
  a customer and a start time also becomes the contact's event when no contact record says so.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from apps.conversations.conversation import AGENT, CUSTOMER, SYSTEM, AnalysisError, Conversation, Turn, check_timings

SPEAKERS = {"customer": CUSTOMER, "caller": CUSTOMER, "client": CUSTOMER, "agent": AGENT, "rep": AGENT,
            "system": SYSTEM, "bot": SYSTEM}
# Amazon Transcribe labels speakers spk_0, spk_1 … and channels ch_0, ch_1: the first is taken to be
# the agent (the one who answers), which is how Connect records calls (agent on the first channel).
TRANSCRIBE_ROLES = {"spk_0": AGENT, "spk_1": CUSTOMER, "ch_0": AGENT, "ch_1": CUSTOMER}


def read(data: Any, *, file: str) -> Conversation:
    if not isinstance(data, dict):
        raise AnalysisError("file is not a JSON object")
    if isinstance(data.get("results"), dict):
        conversation = _transcribe(data, file)
    elif isinstance(data.get("Transcript"), list):
        conversation = _participant_items(data, file)
    elif isinstance(data.get("turns"), list):
        conversation = _generic(data, file)
    else:
        raise AnalysisError("not a transcript this reader knows: expected Amazon Transcribe output (results), "
                            "a Transcript list (Call Analytics, Connect chat) or a generic export (turns)")
    check_timings(conversation.turns)
    if not conversation.turns:
        raise AnalysisError("transcript has no turns")
    return conversation


def _stem(file: str) -> str:
    return PurePosixPath(file).name.split(".")[0]


def _millis(value: Any, where: str) -> int:
    try:
        return round(float(value) * 1000)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{where}: time {value!r} is not a number of seconds") from exc


def _transcribe(data: dict[str, Any], file: str) -> Conversation:
    results = data["results"]
    contact_id = str(data.get("jobName") or _stem(file))
    segments = results.get("audio_segments")
    turns: list[Turn] = []
    if isinstance(segments, list) and segments:
        for index, seg in enumerate(segments):
            where = f"audio_segments[{index}]"
            label = str(seg.get("speaker_label") or seg.get("channel_label") or "spk_0")
            turns.append(Turn(position=index, role=TRANSCRIBE_ROLES.get(label, CUSTOMER),
                              begin_ms=_millis(seg.get("start_time"), where),
                              end_ms=_millis(seg.get("end_time"), where),
                              content=str(seg.get("transcript", "")), turn_id=str(seg.get("id", index))))
        return Conversation(contact_id=contact_id, channel="voice", source="local", turns=turns, file=file)
    return Conversation(contact_id=contact_id, channel="voice", source="local", turns=_from_items(results), file=file)


def _from_items(results: dict[str, Any]) -> list[Turn]:
    """Words joined into turns: a new turn whenever the speaker changes."""
    turns: list[Turn] = []
    for index, item in enumerate(results.get("items") or []):
        content = str((item.get("alternatives") or [{}])[0].get("content", ""))
        if item.get("type") == "punctuation":
            if turns:
                turns[-1].content += content
            continue
        where = f"results.items[{index}]"
        label = str(item.get("speaker_label") or item.get("channel_label") or "spk_0")
        role = TRANSCRIBE_ROLES.get(label, CUSTOMER)
        begin, end = _millis(item.get("start_time"), where), _millis(item.get("end_time"), where)
        if turns and turns[-1].role == role:
            turns[-1].content += " " + content
            turns[-1].end_ms = max(turns[-1].end_ms, end)
        else:
            turns.append(Turn(position=len(turns), role=role, begin_ms=begin, end_ms=end, content=content))
    return turns


def _participant_items(data: dict[str, Any], file: str) -> Conversation:
    contact_id = str(data.get("ContactId") or data.get("JobName") or _stem(file))
    turns: list[Turn] = []
    start: int | None = None
    channel = "voice"
    for index, item in enumerate(data["Transcript"]):
        if not isinstance(item, dict) or (item.get("Type") not in (None, "MESSAGE")) or not item.get("Content"):
            continue
        role = str(item.get("ParticipantRole", CUSTOMER)).upper()
        if "AbsoluteTime" in item:
            channel = "chat"
            when = _absolute(item["AbsoluteTime"], f"Transcript[{index}]")
            start = when if start is None else start
            begin = end = when - start
        else:
            begin = int(item.get("BeginOffsetMillis", 0))
            end = int(item.get("EndOffsetMillis", begin))
        turns.append(Turn(position=index, role=role, begin_ms=begin, end_ms=end, content=str(item["Content"]),
                          turn_id=str(item.get("Id", index))))
    return Conversation(contact_id=contact_id, channel=channel, source="local", turns=turns, file=file,
                        started_ms=start)


def _absolute(value: Any, where: str) -> int:
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise AnalysisError(f"{where}: time {value!r} is not ISO 8601") from exc


def _generic(data: dict[str, Any], file: str) -> Conversation:
    contact_id = str(data.get("contact_id") or _stem(file))
    turns = []
    for index, item in enumerate(data["turns"]):
        where = f"turns[{index}]"
        if not isinstance(item, dict) or "text" not in item:
            raise AnalysisError(f"{where}: expected an object with a text")
        speaker = str(item.get("speaker", "customer")).lower()
        if speaker not in SPEAKERS:
            raise AnalysisError(f"{where}: unknown speaker {speaker!r} (use customer, agent or system)")
        try:
            begin = int(item.get("begin_ms", 0))
            end = int(item.get("end_ms", begin))
        except (TypeError, ValueError) as exc:
            raise AnalysisError(f"{where}: begin_ms/end_ms must be whole milliseconds") from exc
        turns.append(Turn(position=index, role=SPEAKERS[speaker], begin_ms=begin, end_ms=end,
                          content=str(item["text"]), turn_id=str(item.get("id", index))))
    channel = str(data.get("channel") or "chat").lower()
    started = _absolute(data["started_at"], "started_at") if data.get("started_at") else None
    identity = {k: str(data[k]) for k in ("customer_id", "phone", "email") if data.get(k)}
    return Conversation(contact_id=contact_id, channel=channel, source="local", turns=turns, file=file,
                        started_ms=started, identity=identity)
