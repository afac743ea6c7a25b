"""A sample Amazon Connect contact flow (flow language JSON) that asks the hub and routes on its answers.

Intent first (confirm / suggest / menu; a confirmed intent goes back to the hub as feedback), then
risk (skilled agent / agent / bot). A Lambda error or a value no branch expects takes the safe path,
as the Lambda's own fallback does.
"""
from __future__ import annotations

from typing import Any

from apps.decisions.rules import OUTCOMES

LAMBDA_ARN = "arn:aws:lambda:REGION:ACCOUNT_ID:function:journeyhub-decisions"
QUEUE_ARN = "arn:aws:connect:REGION:ACCOUNT_ID:instance/INSTANCE_ID/queue/{name}"
LEX_ALIAS_ARN = "arn:aws:lex:REGION:ACCOUNT_ID:bot-alias/BOT_ID/ALIAS_ID"
ACTIONS = ("confirm", "suggest", "menu")


def _invoke(identifier: str, decision: str, next_action: str, on_error: str,
            **attributes: str) -> dict[str, Any]:
    return {"Identifier": identifier, "Type": "InvokeLambdaFunction",
            "Parameters": {"LambdaFunctionARN": LAMBDA_ARN, "InvocationTimeLimitSeconds": "3",
                           "InvocationType": "SYNCHRONOUS",
                           "LambdaInvocationAttributes": {"decision": decision, **attributes},
                           "ResponseValidation": {"ResponseType": "STRING_MAP"}},
            "Transitions": {"NextAction": next_action,
                            "Errors": [{"NextAction": on_error, "ErrorType": "NoMatchingError"}]}}


def _compare(identifier: str, path: str, branches: dict[str, str], default: str) -> dict[str, Any]:
    return {"Identifier": identifier, "Type": "Compare", "Parameters": {"ComparisonValue": path},
            "Transitions": {"NextAction": default,
                            "Conditions": [{"NextAction": target, "Condition": {"Operator": "Equals",
                                                                                 "Operands": [value]}}
                                           for value, target in branches.items()],
                            "Errors": [{"NextAction": default, "ErrorType": "NoMatchingCondition"}]}}


def _say(identifier: str, text: str, next_action: str) -> dict[str, Any]:
    return {"Identifier": identifier, "Type": "MessageParticipant", "Parameters": {"Text": text},
            "Transitions": {"NextAction": next_action, "Errors": [{"NextAction": next_action,
                                                                    "ErrorType": "NoMatchingError"}]}}


def _queue(identifier: str, queue: str, next_action: str) -> dict[str, Any]:
    return {"Identifier": identifier, "Type": "UpdateContactTargetQueue",
            "Parameters": {"QueueId": QUEUE_ARN.format(name=queue)},
            "Transitions": {"NextAction": next_action, "Errors": [{"NextAction": next_action,
                                                                    "ErrorType": "NoMatchingError"}]}}


def sample_flow() -> dict[str, Any]:
    """The flow JSON: every intent action and every risk outcome has its own branch."""
    actions: list[dict[str, Any]] = [
        _invoke("ask-intent", "intent", "route-intent", on_error="intent-menu"),
        _compare("route-intent", "$.External.action", {a: f"intent-{a}" for a in ACTIONS}, default="intent-menu"),
        {"Identifier": "intent-confirm", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Are you calling about $.External.intent? Press 1 for yes, 2 for no.",
                        "StoreInput": "False", "InputTimeLimitSeconds": "5"},
         "Transitions": {"NextAction": "intent-menu",
                         "Conditions": [{"NextAction": "confirmed", "Condition": {"Operator": "Equals",
                                                                                 "Operands": ["1"]}},
                                        {"NextAction": "intent-menu", "Condition": {"Operator": "Equals",
                                                                                   "Operands": ["2"]}}],
                         "Errors": [{"NextAction": "intent-menu", "ErrorType": "InputTimeLimitExceeded"},
                                    {"NextAction": "intent-menu", "ErrorType": "NoMatchingCondition"},
                                    {"NextAction": "intent-menu", "ErrorType": "NoMatchingError"}]}},
        _invoke("confirmed", "feedback", "ask-risk", on_error="ask-risk", intent="$.External.intent"),
        _say("intent-suggest", "Are you calling about $.External.intent, $.External.alternative_1 or "
                               "$.External.alternative_2?", "ask-risk"),
        _say("intent-menu", "Please tell us how we can help you today.", "ask-risk"),
        _invoke("ask-risk", "risk", "route-risk", on_error="risk-pass_to_agent"),
        _compare("route-risk", "$.External.outcome", {o: f"risk-{o}" for o in OUTCOMES},
                 default="risk-pass_to_agent"),
        _say("risk-pass_to_skilled_agent", "We will connect you with a specialist who will verify your identity.",
             "queue-skilled"),
        _say("risk-pass_to_agent", "We will connect you with an agent.", "queue-agents"),
        {"Identifier": "risk-pass_to_bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "How can I help?", "LexV2Bot": {"AliasArn": LEX_ALIAS_ARN}},
         "Transitions": {"NextAction": "queue-agents",
                         "Errors": [{"NextAction": "queue-agents", "ErrorType": "NoMatchingError"}]}},
        _queue("queue-skilled", "skilled-agents", "transfer"),
        _queue("queue-agents", "agents", "transfer"),
        {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "disconnect",
                         "Errors": [{"NextAction": "disconnect", "ErrorType": "QueueAtCapacity"},
                                    {"NextAction": "disconnect", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "disconnect", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}},
    ]
    return {"Version": "2019-10-30", "StartAction": "ask-intent",
            "Metadata": {"name": "JourneyHub decisions (sample)",
                         "description": "Asks the hub for the caller's intent and the call's risk and routes on "
                                        "$.External.action and $.External.outcome."},
            "Actions": actions}
