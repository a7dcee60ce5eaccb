"""``logscrub config check`` and ``config show``: what an operator sees before anything runs."""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from logscrub.cli.main import main
from logscrub.config import MASK
from logscrub.config import render as render_config
from logscrub.config import Config, KeysConfig, load

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "logscrub.yaml"


@pytest.fixture(autouse=True)
def _no_ambient_overrides(monkeypatch):
    """LOGSCRUB_* variables of the shell running the tests must not change what the commands see."""
    for name in [n for n in os.environ if n.startswith("LOGSCRUB_")]:
        monkeypatch.delenv(name)


def test_check_accepts_the_shipped_example(capsys):
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "ok\n"


def test_check_without_a_file_validates_defaults_and_environment(capsys, monkeypatch):
    assert main(["config", "check"]) == 0
    monkeypatch.setenv("LOGSCRUB_AGGREGATE__K", "1")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "aggregate.k" in err and "1" in err and "minimum 2" in err


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("ip:\n  mode: hashed\n", ["ip.mode", "'hashed'", "truncate, pseudonym, drop"]),
        ("ip:\n  ipv4_prefix: 32\n", ["ip.ipv4_prefix", "32", "0..24"]),
        ("security:\n  window: soon\n", ["security.window", "'soon'", "7d"]),
        ("kafka:\n  bootstrap_server: x:1\n", ["kafka.bootstrap_server", "unknown setting", "bootstrap_servers"]),
    ],
)
def test_check_names_key_value_and_what_is_allowed(tmp_path, capsys, text, named):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert all(part in out.err for part in named), out.err


def test_check_of_a_missing_file_is_a_config_error(tmp_path, capsys):
    assert main(["config", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_show_prints_the_effective_config_which_loads_back_unchanged(tmp_path, capsys, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("security:\n  window: 2d\nip:\n  mode: pseudonym\ntopics:\n  raw: {partitions: 4, retention: 90m}\n")
    monkeypatch.setenv("LOGSCRUB_IP__MODE", "drop")
    monkeypatch.setenv("LOGSCRUB_URL__QUERY_ALLOW", "page,lang")
    assert main(["config", "show", "--config", str(path)]) == 0
    shown = capsys.readouterr().out
    tree = yaml.safe_load(shown)
    assert tree["ip"]["mode"] == "drop"  # the environment wins over the file
    assert tree["security"]["window"] == "2d"
    assert tree["keys"]["visitor_rotation"] == "1d"  # defaults are shown too
    assert tree["url"]["query_allow"] == ["page", "lang"]
    assert tree["topics"]["raw"] == {"name": "logs.raw", "partitions": 4, "replication": 1, "retention": "90m"}
    again = tmp_path / "shown.yaml"
    again.write_text(shown)
    assert load(again, env={}) == load(path, env={"LOGSCRUB_IP__MODE": "drop", "LOGSCRUB_URL__QUERY_ALLOW": "page,lang"})


def test_show_of_the_defaults_lists_every_section_and_loads_back_to_them(tmp_path):
    path = tmp_path / "defaults.yaml"
    path.write_text(render_config(Config()))
    assert set(yaml.safe_load(path.read_text())) == set(Config.__dataclass_fields__)
    assert load(path, env={}) == Config()


def test_show_refuses_an_invalid_config(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("aggregate:\n  k: 1\n")
    assert main(["config", "show", "--config", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "aggregate.k" in out.err


@dataclass(frozen=True)
class _Kafka:
    bootstrap_servers: str = "b:9092"
    sasl_username: str = "logscrub"
    sasl_password: str = "hunter2-sasl"
    ssl_key_password: str = "hunter2-ssl"
    ssl_keyfile: str = "/etc/logscrub/client.key"
    api_key: str = "hunter2-api"
    oauth_token: str | None = None


@dataclass(frozen=True)
class _Tree:
    kafka: _Kafka = _Kafka()
    keys: KeysConfig = KeysConfig()
    extra: dict | None = None


def test_show_masks_secrets_by_name_but_not_the_keys_section():
    tree = _Tree(extra={"client_secret": "hunter2-oidc", "nested": {"password": "hunter2-nested"}})
    shown = render_config(tree)
    assert "hunter2" not in shown
    data = yaml.safe_load(shown)
    assert data["kafka"]["sasl_password"] == data["kafka"]["ssl_key_password"] == data["kafka"]["api_key"] == MASK
    assert data["extra"] == {"client_secret": MASK, "nested": {"password": MASK}}
    # Not secrets: user names, paths to key files, an unset secret, and the rotation settings.
    assert data["kafka"]["sasl_username"] == "logscrub"
    assert data["kafka"]["ssl_keyfile"] == "/etc/logscrub/client.key"
    assert data["kafka"]["oauth_token"] is None
    assert data["keys"] == {"visitor_rotation": "1d", "data_rotation": "1h"}


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (90, "90s"), (60, "1m"), (5400, "90m"), (7200, "2h"),
                                                (86400, "1d"), (604800, "7d")])
def test_durations_are_shown_as_the_example_writes_them(tmp_path, seconds, text):
    path = tmp_path / "c.yaml"
    path.write_text(f"aggregate:\n  allowed_lateness: {seconds}\n")
    shown = yaml.safe_load(render_config(load(path, env={})))["aggregate"]["allowed_lateness"]
    assert shown == text
    assert load(None, env={"LOGSCRUB_AGGREGATE__ALLOWED_LATENESS": shown}).aggregate.allowed_lateness == seconds


def test_config_without_an_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["config"])
    assert done.value.code == 2
    assert "ACTION" in capsys.readouterr().err
