"""LOGSCRUB_* variables: a mistyped one is refused like an unknown key, naming it and the closest known name."""

import pytest

from logscrub.config import OTHER_VARIABLES, ConfigError, env_variables, load
from logscrub.crypto import master


@pytest.mark.parametrize(
    "name,closest",
    [
        ("LOGSCRUB_KAFKA_BOOTSTRAP_SERVERS", "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS"),  # one underscore
        ("LOGSCRUB_KAFKA__BOOTSTRAP_SERVER", "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS"),  # a letter short
        ("LOGSCRUB_IP_MODE", "LOGSCRUB_IP__MODE"),
        ("LOGSCRUB_URL__QUERY_ALLOWED", "LOGSCRUB_URL__QUERY_ALLOW"),
        ("LOGSCRUB_TOPICS__RAW__PARTITION", "LOGSCRUB_TOPICS__RAW__PARTITIONS"),
        ("LOGSCRUB_MASTERKEY_FILE", "LOGSCRUB_MASTER_KEY_FILE"),
    ],
)
def test_a_mistyped_variable_is_refused_naming_it_and_the_closest_name(name, closest):
    with pytest.raises(ConfigError) as e:
        load(None, {name: "x"})
    assert e.value.key == name
    assert str(e.value).endswith(f"did you mean {closest}?")


@pytest.mark.parametrize("name", ["LOGSCRUB_FOO", "LOGSCRUB_IP", "LOGSCRUB_KAFKA__", "LOGSCRUB_"])
def test_a_variable_like_no_setting_is_refused_with_the_naming_rule(name):
    with pytest.raises(ConfigError, match="LOGSCRUB_SECTION__KEY") as e:
        load(None, {name: "x"})
    assert e.value.key == name


def test_the_value_of_a_refused_variable_is_never_shown():
    with pytest.raises(ConfigError) as e:
        load(None, {"LOGSCRUB_KAFKA_SASL_PASSWORD": "hunter2secret"})
    assert "hunter2secret" not in str(e.value)
    assert "LOGSCRUB_KAFKA__SASL_PASSWORD" in str(e.value)


def test_every_setting_variable_is_accepted_as_a_name():
    names = env_variables()
    assert "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS" in names and "LOGSCRUB_TOPICS__RAW__NAME" in names
    for name in names:
        try:
            load(None, {name: ""})
        except ConfigError as e:  # an empty value may be invalid for the setting; the name must not be
            assert "not a logscrub variable" not in str(e), name


def test_keys_under_a_mapping_setting_and_unrelated_variables_pass():
    cfg = load(None, {"LOGSCRUB_INPUT__JSON_FIELDS__CLIENT": "ip", "HOME": "/root", "LOGSCRUBBER": "x"})
    assert cfg.input.json_fields == {"client": "ip"}


def test_the_other_variables_are_known_and_are_the_ones_crypto_and_the_core_switch_read():
    from logscrub import native

    assert set(OTHER_VARIABLES) == {master.ENV, master.ENV_FILE, native.ENV}
    load(None, {master.ENV: "anything", master.ENV_FILE: "/nowhere", native.ENV: "0"})  # not refused
