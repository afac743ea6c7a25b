"""Contact Lens analysis files in the documented shape, built from our own dialogues.

The field names and structure follow the Amazon Connect administrator guide's "Example Contact Lens
output files" (calls: Version 1.1.0; chats: CHAT-2022-11-30); the conversations, their sentiment
labels and numbers are ours. The original ("Raw") files carry PII, as real ones do.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CUSTOMER_ID = "6f0a1c2e-0000-4000-8000-00000000c001"
AGENT_ID = "6f0a1c2e-0000-4000-8000-00000000a001"

# (role, text, Contact Lens label, begin ms, end ms)
CANCEL_CALL = [
    ("AGENT", "Thanks for calling Example Bank, you're speaking with Priya. How can I help today?", "POSITIVE",
     0, 4200),
    ("CUSTOMER", "Hi, my name is Daniel Okafor. I want to cancel my credit card, these fees are ridiculous.",
     "NEGATIVE", 4600, 10100),
    ("AGENT", "I'm sorry to hear that. Can you confirm the card number for me?", "NEUTRAL", 10400, 13900),
    ("CUSTOMER", "It's 4111 1111 1111 1111 and you can call me back on 0412 555 019 if we get cut off.", "NEUTRAL",
     14200, 20500),
    ("AGENT", "Thank you Daniel. I can see an annual fee of ninety dollars was charged last week.", "NEUTRAL",
     19800, 25200),
    ("CUSTOMER", "That is exactly the problem, nobody told me about it and I am furious.", "NEGATIVE", 25600, 29900),
    ("AGENT", "I understand. I can waive this year's fee and move you to the no fee card instead.", "POSITIVE",
     33500, 39100),
    ("CUSTOMER", "Okay, that would be great, thank you so much.", "POSITIVE", 39400, 42300),
    ("AGENT", "Done. I'll email the confirmation to daniel.okafor@example.com today.", "POSITIVE", 42700, 47200),
    ("CUSTOMER", "Perfect, thanks for your help.", "POSITIVE", 47500, 49400),
]

DISPUTE_CALL = [
    ("AGENT", "Example Bank, this is Marco speaking.", "NEUTRAL", 0, 2500),
    ("CUSTOMER", "There is a charge on my statement I never made and I'm worried someone stole my details.",
     "NEGATIVE", 2900, 8300),
    ("AGENT", "That's concerning, let's look into it together right away.", "NEUTRAL", 8600, 11800),
    ("CUSTOMER", "It was four hundred dollars at a store I have never heard of.", "NEGATIVE", 12100, 16000),
    ("AGENT", "I've blocked the card and raised a dispute, you will not pay for that charge.", "POSITIVE",
     16500, 21900),
    ("CUSTOMER", "Thank you, that's a relief.", "POSITIVE", 22300, 24100),
    ("CUSTOMER", "Please send the new card to 17 Harbour Street, Manly NSW 2095.", "NEUTRAL", 24400, 28800),
    ("AGENT", "Of course. Is there anything else I can help with?", "POSITIVE", 29200, 31900),
    ("CUSTOMER", "No, that's all.", "NEUTRAL", 32300, 33400),
]

# (role, text, label, seconds after the start)
REFUND_CHAT = [
    ("AGENT", "Hello, thanks for contacting Example Bank. How may I help?", "POSITIVE", 3),
    ("CUSTOMER", "My transfer to my landlord failed twice and I was charged a fee both times, this is awful.",
     "NEGATIVE", 20),
    ("AGENT", "I'm sorry about that. Could you share the account number you sent it from?", "NEUTRAL", 41),
    ("CUSTOMER", "Sure, the account number is 12345678.", "NEUTRAL", 63),
    ("AGENT", "Thanks. I have refunded both fees and the transfer has now gone through.", "POSITIVE", 120),
    ("CUSTOMER", "Great, thank you, that's really helpful.", "POSITIVE", 141),
    ("CUSTOMER", "Can you send me a receipt at pat.doe@example.com?", "NEUTRAL", 150),
    ("AGENT", "Done, have a lovely day.", "POSITIVE", 171),
]


def _quarters(turns: list[tuple[Any, ...]], role: str, scores: list[float]) -> list[dict[str, Any]]:
    end = max(t[4] for t in turns if t[0] == role)
    bounds = [round(end * i / 4) for i in range(5)]
    return [{"BeginOffsetMillis": bounds[i], "EndOffsetMillis": bounds[i + 1], "Score": scores[i]} for i in range(4)]


def _talk(turns: list[tuple[Any, ...]], role: str) -> int:
    return sum(t[4] - t[3] for t in turns if t[0] == role)


def _summary_item(turn_id: str, begin: int, end: int) -> dict[str, Any]:
    return {"TranscriptItems": [{"CharacterOffsets": {"BeginOffsetChar": begin, "EndOffsetChar": end}, "Id": turn_id}]}


def voice_analysis(turns: list[tuple[Any, ...]], *, categories: dict[str, list[tuple[int, int]]] | None = None,
                   overall: tuple[float, float] = (1.2, 2.8), customer_quarters: tuple[float, ...] = (-2.5, -5, 0, 5),
                   agent_quarters: tuple[float, ...] = (5, 0, 2.5, 5), version: str = "1.1.0", output: str = "Raw",
                   summary: str = "", interrupted: list[tuple[str, int, int]] | None = None) -> dict[str, Any]:
    """A call's analysis file; `interrupted` lists (interrupter role, begin ms, end ms)."""
    roles = {"CUSTOMER": CUSTOMER_ID, "AGENT": AGENT_ID}
    transcript = []
    for index, (role, text, label, begin, end) in enumerate(turns):
        item: dict[str, Any] = {"BeginOffsetMillis": begin, "Content": text, "EndOffsetMillis": end,
                                "Id": f"turn-{index:03d}", "ParticipantId": roles[role], "Sentiment": label,
                                "LoudnessScore": [71.5, 74.25]}
        if "cancel" in text.lower():
            item["IssuesDetected"] = [{"CharacterOffsets": {"BeginOffsetChar": text.lower().index("i want"),
                                                            "EndOffsetChar": len(text) - 1}}]
        if "waive" in text:
            item["OutcomesDetected"] = [{"CharacterOffsets": {"BeginOffsetChar": 15, "EndOffsetChar": len(text) - 1}}]
        if text.startswith("Done. I'll email"):
            item["ActionItemsDetected"] = [{"CharacterOffsets": {"BeginOffsetChar": 6, "EndOffsetChar": len(text) - 1}}]
        transcript.append(item)
    interrupted = interrupted or []
    by_role: dict[str, list[dict[str, int]]] = {}
    for role, begin, end in interrupted:
        by_role.setdefault(role, []).append({"BeginOffsetMillis": begin, "DurationMillis": end - begin,
                                             "EndOffsetMillis": end})
    duration = max(t[4] for t in turns)
    matched = categories or {}
    return {
        "Version": version, "AccountId": "111122223333", "Channel": "VOICE",
        "ContentMetadata": {"Output": output}, "JobStatus": "COMPLETED", "LanguageCode": "en-AU",
        "Participants": [{"ParticipantId": CUSTOMER_ID, "ParticipantRole": "CUSTOMER"},
                         {"ParticipantId": AGENT_ID, "ParticipantRole": "AGENT"}],
        "Categories": {"MatchedCategories": list(matched),
                       "MatchedDetails": {name: {"PointsOfInterest": [{"BeginOffsetMillis": b, "EndOffsetMillis": e}
                                                                     for b, e in points]}
                                          for name, points in matched.items()}},
        "ConversationCharacteristics": {
            "ContactSummary": {"PostContactSummary": {"Content": summary}},
            "TotalConversationDurationMillis": duration,
            "Sentiment": {"OverallSentiment": {"AGENT": overall[1], "CUSTOMER": overall[0]},
                          "SentimentByPeriod": {"QUARTER": {
                              "AGENT": _quarters(turns, "AGENT", list(agent_quarters)),
                              "CUSTOMER": _quarters(turns, "CUSTOMER", list(customer_quarters))}}},
            "Interruptions": {"InterruptionsByInterrupter": by_role, "TotalCount": len(interrupted),
                              "TotalTimeMillis": sum(e - b for _, b, e in interrupted)},
            "NonTalkTime": {"TotalTimeMillis": 3600,
                            "Instances": [{"BeginOffsetMillis": 29900, "DurationMillis": 3600,
                                           "EndOffsetMillis": 33500}]},
            "TalkSpeed": {"DetailsByParticipant": {"AGENT": {"AverageWordsPerMinute": 171},
                                                   "CUSTOMER": {"AverageWordsPerMinute": 148}}},
            "TalkTime": {"TotalTimeMillis": sum(t[4] - t[3] for t in turns),
                         "DetailsByParticipant": {role: {"TotalTimeMillis": _talk(turns, role)}
                                                  for role in ("AGENT", "CUSTOMER")}},
        },
        "CustomModels": [],
        "Transcript": transcript,
    }


def chat_analysis(turns: list[tuple[Any, ...]], *, contact_id: str, start: str = "2026-11-03T08:00:00",
                  categories: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """A chat's analysis file; categories name the indexes of the messages that matched."""
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start)
    ids = {"CUSTOMER": CUSTOMER_ID, "AGENT": AGENT_ID}
    items = [{"AbsoluteTime": t0.isoformat(timespec="milliseconds") + "Z",
              "ContentType": "application/vnd.amazonaws.connect.event.participant.joined",
              "Id": "join-customer", "ParticipantId": CUSTOMER_ID, "ParticipantRole": "CUSTOMER", "Type": "EVENT"}]
    groups = []
    for index, (role, text, label, seconds) in enumerate(turns):
        turn_id = f"msg-{index:03d}"
        items.append({"AbsoluteTime": (t0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z",
                      "Content": text, "ContentType": "text/plain", "DisplayName": role.title(), "Id": turn_id,
                      "ParticipantId": ids[role], "ParticipantRole": role, "Type": "MESSAGE"})
        groups.append({"ParticipantRole": role, "ProgressiveScore": 0, "Sentiment": label,
                       "TranscriptItems": [{"Id": turn_id}]})
    matched = categories or {}
    return {
        "AccountId": "111122223333", "Channel": "CHAT", "ChatTranscriptVersion": "2019-08-26",
        "ContentMetadata": {"Output": "Raw"}, "JobStatus": "COMPLETED", "LanguageCode": "en-AU",
        "Version": "CHAT-2022-11-30",
        "CustomerMetadata": {"ContactId": contact_id, "InstanceId": "inst-1", "InputS3Uri": "s3://bucket/chat.json"},
        "Participants": [{"DisplayName": "Customer", "ParticipantId": CUSTOMER_ID, "ParticipantRole": "CUSTOMER"},
                         {"DisplayName": "Agent", "ParticipantId": AGENT_ID, "ParticipantRole": "AGENT"}],
        "Categories": {"MatchedCategories": list(matched), "MatchedDetails": {
            name: {"PointsOfInterest": [{"TranscriptItems": [
                {"CharacterOffsets": {"BeginOffsetChar": 0, "EndOffsetChar": 10}, "Id": f"msg-{i:03d}"}
                for i in indexes]}]} for name, indexes in matched.items()}},
        "ConversationCharacteristics": {
            "ContactSummary": {"SummaryItemsDetected": [{
                "IssuesDetected": [_summary_item("msg-001", 0, 39)],
                "OutcomesDetected": [_summary_item("msg-004", 8, 33)],
                "ActionItemsDetected": []}]},
            "Sentiment": {"DetailsByTranscriptItemGroup": groups,
                          "OverallSentiment": {"DetailsByParticipantRole": {"AGENT": 2.5, "CUSTOMER": 0.8}}},
        },
        "Transcript": items,
    }


def write(root: Path, relative: str, document: Any) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) if not isinstance(document, str) else document)
    return path


CANCEL_FILE = "Analysis/Voice/2026/11/02/c-voice-1_analysis_2026-11-02T10:21:35Z.json"
DISPUTE_FILE = "Analysis/Voice/2026/11/04/c-callback-1_analysis_2026-11-04T11:05:09Z.json"
CHAT_FILE = "Analysis/Chat/2026/11/03/c-chat-1_analysis_2026-11-03T08:09:04Z.json"


def cancel_call(**kwargs: Any) -> dict[str, Any]:
    categories = {"Cancellation": [(4600, 10100)], "Fees": [(4600, 10100), (19800, 25200)]}
    return voice_analysis(CANCEL_CALL, categories=categories,
                          summary="Customer called to cancel a credit card over an annual fee; the agent waived the "
                                  "fee and moved the customer to a no-fee card.",
                          interrupted=[("AGENT", 19800, 20500)], **kwargs)


def dispute_call() -> dict[str, Any]:
    return voice_analysis(DISPUTE_CALL, categories={"Fraud": [(2900, 8300)]}, overall=(0.4, 1.0),
                          customer_quarters=(-5, -2.5, 2.5, 0), summary="Unrecognised charge disputed; card blocked.")


def refund_chat() -> dict[str, Any]:
    return chat_analysis(REFUND_CHAT, contact_id="c-chat-1", categories={"Fees": [1], "Refund": [4]})
