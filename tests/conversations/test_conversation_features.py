"""CSAT and churn features read the conversations: sentiment trajectory across a customer's analysed
contacts and the categories they matched, by one feature function fed from the event store's
contacts table when training and from the contacts' events in the graph when scoring online."""
from __future__ import annotations

import pytest

from apps.propensity import selectors
from apps.propensity.features import FeatureConfig, journey_features

pytestmark = pytest.mark.django_db
AS_OF = 1_793_800_000_000  # after every loaded contact


def test_training_and_online_rows_give_the_same_conversation_features(loaded):
    # given the training frame (event store) and the online rows (graph) of the same customers
    frame = selectors.journey_events()
    config = FeatureConfig.learn(frame)
    for customer in ("cust-100", "phone:+61412000222", "email:pat.doe@example.com"):
        training = frame[frame["customer_id"] == customer].to_dict("records")
        online = selectors.customer_event_rows(customer)
        # when both are turned into features
        offline_f = journey_features(training, AS_OF, config)
        online_f = journey_features(online, AS_OF, config)
        # then they agree on every column
        assert offline_f == online_f, customer
    assert config.categories == ("Cancellation", "Fees", "Fraud", "Refund")


def test_conversation_features_follow_the_sentiment_and_categories_of_the_contacts(loaded):
    config = FeatureConfig.learn(selectors.journey_events())
    f = journey_features(selectors.customer_event_rows("phone:+61412000222"), AS_OF, config)
    assert (f["contacts_analysed"], f["contact_sentiment_last"], f["contact_sentiment_change_last"]) == (1.0, 0.4, 5.0)
    assert (f["category_count:Fraud"], f["category_count:Fees"], f["category_days_since:Fees"]) == (1.0, 0.0, 3650.0)
    assert f["category_days_since:Fraud"] == pytest.approx((AS_OF - 1_793_790_000_000) / 86_400_000)
    assert (f["negative_contacts_90d"], f["days_since_negative_contact"]) == (0.0, 3650.0)


def test_a_trajectory_that_worsens_reads_negative_and_counts_negative_contacts():
    day = 86_400_000
    events = [{"ts": n * day, "type": "call_inbound", "channel": "voice", "outcome": None, "attributes": {},
               "sentiment_customer": s, "sentiment_change": -1.5, "categories": ["Cancellation"] if s < 0 else []}
              for n, s in enumerate([2.0, 1.0, -3.0], start=1)]
    config = FeatureConfig(types=("call_inbound",), channels=("voice",), categories=("Cancellation",),
                           conversations=True)
    f = journey_features(events, 10 * day, config)
    assert (f["contact_sentiment_mean"], f["contact_sentiment_min"], f["contact_sentiment_trend"]) == (0.0, -3.0, -4.5)
    assert (f["negative_contacts_90d"], f["days_since_negative_contact"], f["category_count:Cancellation"]) == (
        1.0, 7.0, 1.0)


def test_a_model_trained_before_conversation_features_keeps_its_columns():
    old = FeatureConfig(types=("call",), channels=("voice",))
    assert not any(name.startswith(("contact", "category")) for name in old.names())
