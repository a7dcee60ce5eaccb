import pytest

from logscrub.config import Config, ConfigError, load


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_are_valid_and_private():
    cfg = load(None, env={})
    assert cfg == Config()
    assert (cfg.ip.mode, cfg.ip.ipv4_prefix, cfg.ip.ipv6_prefix) == ("truncate", 24, 48)
    assert cfg.aggregate.k == 5
    assert cfg.events.time_granularity == 3600  # an event's time, and the slot its groups are kept in
    assert cfg.keys.visitor_rotation == 86400


def test_yaml_and_durations(tmp_path):
    cfg = load(write(tmp_path, "security:\n  window: 2h\nkeys:\n  data_rotation: 15m\naggregate:\n  window: 5m\n"), env={})
    assert cfg.security.window == 7200
    assert cfg.keys.data_rotation == 900
    assert cfg.aggregate.window == 300


def test_env_overrides_file(tmp_path):
    path = write(tmp_path, "ip:\n  mode: truncate\n")
    cfg = load(path, env={"LOGSCRUB_IP__MODE": "drop", "LOGSCRUB_URL__QUERY_ALLOW": "page, lang",
                          "LOGSCRUB_TOPICS__RAW__PARTITIONS": "4"})
    assert cfg.ip.mode == "drop"
    assert cfg.url.query_allow == ("page", "lang")
    assert cfg.topics.raw.partitions == 4
    assert cfg.topics.raw.name == "logs.raw"


BAD = [
    ("ip:\n  mode: hash\n", "ip.mode"),
    ("ip:\n  ipv4_prefix: 32\n", "ip.ipv4_prefix"),
    ("ip:\n  ipv6_prefix: 128\n", "ip.ipv6_prefix"),
    ("ip:\n  ipv4_prefix: '24'\n", "ip.ipv4_prefix"),
    ("ip:\n  trusted_proxies: [10.0.0.0/33]\n", "ip.trusted_proxies[0]"),
    ("ip:\n  modes: drop\n", "ip.modes"),
    ("ipp:\n  mode: drop\n", "ipp"),
    ("input:\n  format: syslog\n", "input.format"),
    ("input:\n  format: nginx\n", "input.nginx_log_format"),
    ("aggregate:\n  k: 1\n", "aggregate.k"),
    ("aggregate:\n  window: 10s\n", "aggregate.window"),
    ("aggregate:\n  dimensions: [path, email]\n", "aggregate.dimensions[1]"),
    ("events:\n  time_granularity: 1s\n", "events.time_granularity"),
    ("events:\n  time_granularity: 7m\n", "events.time_granularity"),  # slots must tile a day
    ("security:\n  window: soon\n", "security.window"),
    ("security:\n  window: 30m\nkeys:\n  data_rotation: 1h\n", "keys.data_rotation"),
    ("keys:\n  visitor_rotation: 2d\n", "keys.visitor_rotation"),
    ("geoip:\n  country_db: /nonexistent/GeoLite2-Country.mmdb\n", "geoip.country_db"),
    ("url:\n  path_rules: ['users/*']\n", "url.path_rules[0]"),
    ("topics:\n  events:\n    name: 'bad topic'\n", "topics.events.name"),
    ("topics:\n  events:\n    name: security.raw\n", "topics"),
    ("topics:\n  raw:\n    partitions: 0\n", "topics.raw.partitions"),
    ("- just\n- a list\n", "(file)"),
    ("ip: [1, 2]\n", "ip"),
]


@pytest.mark.parametrize("text,key", BAD, ids=[k for _, k in BAD])
def test_bad_config_names_its_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, text), env={})
    assert e.value.key == key
    assert key in str(e.value)


def test_bad_env_value_names_its_key():
    with pytest.raises(ConfigError) as e:
        load(None, env={"LOGSCRUB_AGGREGATE__K": "many"})
    assert e.value.key == "aggregate.k"


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path / "missing.yaml", env={})
    assert "missing.yaml" in str(e.value)


def test_bundled_example_is_the_defaults():
    """config/logscrub.yaml documents every setting with its default; keep it true to the code."""
    from pathlib import Path

    example = Path(__file__).parent.parent / "config" / "logscrub.yaml"
    assert load(example, env={}) == Config()


def test_a_string_setting_from_the_environment_is_taken_verbatim() -> None:
    """YAML would read 0123 as the octal number 83, and 'yes' as true: a password must not change."""
    for password in ("0123", "yes", "#x", "[a, b]", "1e3"):
        cfg = load(None, env={"LOGSCRUB_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                              "LOGSCRUB_KAFKA__SASL_USERNAME": "u", "LOGSCRUB_KAFKA__SASL_PASSWORD": password})
        assert cfg.kafka.sasl_password == password
    assert load(None, env={"LOGSCRUB_METRICS__PORT": "9200"}).metrics.port == 9200  # other types still parse


def test_an_error_about_a_secret_never_shows_its_value(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka: {security_protocol: SASL_PLAINTEXT, sasl_username: u, sasl_password: [hunter2, x]}\n")
    with pytest.raises(ConfigError) as e:
        load(path, env={})
    assert e.value.key == "kafka.sasl_password" and "hunter2" not in str(e.value)
