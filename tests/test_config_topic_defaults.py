"""A topic set in part keeps the rest of its default (found by the docs' examples, issue 18: the
audit topic named through the environment lost its 365-day retention to the broker's 7 days)."""

from logscrub.config import Config, load


def test_a_topic_named_through_the_environment_keeps_its_default_retention():
    default = Config().topics.audit.retention
    assert default == 365 * 86400
    assert load(None, env={"LOGSCRUB_TOPICS__AUDIT__NAME": "x.audit"}).topics.audit.retention == default
    assert load(None, env={"LOGSCRUB_TOPICS__AUDIT__PARTITIONS": "3"}).topics.audit.retention == default


def test_a_retention_given_still_wins():
    cfg = load(None, env={"LOGSCRUB_TOPICS__AUDIT__NAME": "x.audit", "LOGSCRUB_TOPICS__AUDIT__RETENTION": "30d"})
    assert (cfg.topics.audit.name, cfg.topics.audit.retention) == ("x.audit", 30 * 86400)
