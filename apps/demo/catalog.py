"""The demo bank's vocabulary: products, pages, event types, milestones and names.

Kept apart from the generator so the dashboard, tests and milestone definitions can name the same
event types without importing generation logic.
"""
from __future__ import annotations

from dataclasses import dataclass

CHANNELS = ("web", "app", "voice", "chat", "email")
SOURCE = "demo"


@dataclass(frozen=True)
class Product:
    code: str  # the intent code of the shared intents data set (HL, CC, ...)
    topic: str  # readable name, kept in each related event's `topic` attribute
    pages: tuple[str, str]  # product page, then a tool page (calculator, comparison, quote)
    conversion: str  # event type when the customer takes the product
    conversion_channel: str
    conversion_rate: float  # chance that an episode reaching its third call converts


PRODUCTS: dict[str, Product] = {p.code: p for p in (
    Product("HL", "home_loan", ("view_home_loans", "home_loan_calculator"), "home_loan_approved", "email", 0.45),
    Product("CC", "credit_card", ("view_credit_cards", "compare_cards"), "card_activated", "app", 0.6),
    Product("AC", "account", ("view_accounts", "compare_accounts"), "account_opened", "web", 0.65),
    Product("FD", "fixed_deposit", ("view_fixed_deposits", "rate_calculator"), "fixed_deposit_opened", "web", 0.5),
    Product("LI", "life_insurance", ("view_life_insurance", "insurance_quote"), "policy_issued", "email", 0.35),
    Product("TA", "trading_account", ("view_trading", "market_watch"), "trading_account_opened", "app", 0.4),
)}
FRAUD_DISPUTE = "fraud_dispute"
# Contacts carry the data set's `<INTENT>_<SUBINTENT>` codes as their intent (what the next-intent model
# predicts); a fraud dispute gets a code of the same shape: FR (fraud) _DS (dispute).
FRAUD_DISPUTE_INTENT = "FR_DS"
DISPUTE_CALL = "call_fraud_dispute"  # most disputes are lodged by phone ...
DISPUTE_CHAT = "chat_fraud_dispute"  # ... the rest in a chat
TOPICS = tuple(p.topic for p in PRODUCTS.values()) + (FRAUD_DISPUTE,)

# Touchpoint tokens are TV channel names in the source data; each stands for one page of the bank's
# site or app here, assigned in alphabetical order, so a customer's token sequence becomes a browsing path.
GENERIC_PAGES = ("view_balance", "view_transactions", "transfer_funds", "pay_bill", "view_statements",
                 "update_details", "view_offers", "view_rates", "search", "view_help", "find_branch",
                 "view_notifications")
LOGIN = "login"
APPLICATION_STARTED = "application_started"
SPECIAL_TOKENS = {"web": LOGIN, "visit": APPLICATION_STARTED}

CALL_PREFIX = "call_"  # voice events are `call_<topic>`, e.g. call_home_loan
CALL_OUTCOMES = (("resolved", 0.72), ("transferred", 0.14), ("callback_requested", 0.09), ("abandoned", 0.05))
CHAT_FOLLOW_UP = "chat_follow_up"
EMAIL_FOLLOW_UP = "email_follow_up"
SURVEY = "survey_response"
COMPLAINT = "complaint"
CHURNED = "churned"
DISPUTE_STEPS = ("view_transactions", "view_transaction_detail", "card_locked")
VERIFICATION = "verification"  # a failed identity check, logged before the call it belongs to

# Milestones reached by event type: what the journeys app can register as definitions (the fraud
# dispute milestone is reached through the FR_DS intent, in any channel: see definitions.py).
MILESTONES: tuple[tuple[str, str, str], ...] = tuple(
    (p.conversion, p.conversion.replace("_", " ").capitalize(), p.conversion) for p in PRODUCTS.values()
) + ((CHURNED, "Churned", CHURNED),)

FIRST_NAMES = ("Olivia", "Jack", "Charlotte", "William", "Amelia", "Noah", "Isla", "Oliver", "Mia", "Thomas",
               "Ava", "James", "Grace", "Lucas", "Chloe", "Henry", "Sophie", "Leo", "Ruby", "Ethan", "Zoe",
               "Lachlan", "Emily", "Cooper", "Harper", "Mason", "Matilda", "Liam", "Evie", "Hudson", "Priya",
               "Wei", "Aarav", "Mei", "Arjun", "Sakura", "Mohammed", "Fatima", "Nikolai", "Elena")
LAST_NAMES = ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin", "Anderson",
              "Thompson", "Nguyen", "Thomas", "Walker", "Harris", "Lee", "Ryan", "Robinson", "Kelly", "King",
              "Davis", "Wright", "Evans", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel",
              "Chen", "Wang", "Singh", "Kumar", "Tran", "Murphy", "O'Brien", "Campbell", "Mitchell", "Papadopoulos")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def page_for_token(token: str, tokens: tuple[str, ...]) -> str:
    """The page a touchpoint token stands for; `tokens` is the sorted vocabulary of TV channel names."""
    if token in SPECIAL_TOKENS:
        return SPECIAL_TOKENS[token]
    return GENERIC_PAGES[tokens.index(token) % len(GENERIC_PAGES)]


def segment_for(*, age: int, job: str, deposit: bool) -> str:
    """A marketing segment from the demographic columns of users.csv."""
    if job == "student" or age < 26:
        return "youth"
    if job == "retired" or age >= 65:
        return "retiree"
    if deposit and job in ("management", "entrepreneur", "self-employed"):
        return "premier"
    if job in ("entrepreneur", "self-employed"):
        return "small_business"
    return "everyday"
