"""SASL/TLS settings: validated naming the key, passed to every client, never shown."""

from __future__ import annotations

import datetime
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)

from logscrub.cli.main import main
from logscrub.config import MASK
from logscrub.config import Config, ConfigError, load
from logscrub.errors import Refused
from logscrub.kafka.refusals import refusal, refused_clearly
from logscrub.kafka.settings import aiokafka_kwargs, faust_broker_kwargs, kafka_python_kwargs, principal

PASSWORD = "pw-canary-7f3a"


@pytest.fixture(autouse=True)
def _no_ambient_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LOGSCRUB_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and its key: (cert path, key path)."""
    d = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "logscrub-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = d / "client.pem", d / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def kafka_env(**settings: str) -> dict[str, str]:
    return {f"LOGSCRUB_KAFKA__{k.upper()}": v for k, v in settings.items()}


def test_plaintext_kwargs_carry_no_login_or_tls() -> None:
    cfg = load(None, env=kafka_env(bootstrap_servers="a:1, b:2"))
    assert kafka_python_kwargs(cfg.kafka) == {"bootstrap_servers": ["a:1", "b:2"], "security_protocol": "PLAINTEXT"}
    assert faust_broker_kwargs(cfg.kafka) == {"broker": "kafka://a:1;kafka://b:2", "broker_credentials": None}
    assert principal(cfg.kafka) == "User:ANONYMOUS"


def test_sasl_ssl_scram_reaches_kafka_python_and_faust_alike(pem: tuple[str, str]) -> None:
    cert, key = pem
    cfg = load(None, env=kafka_env(
        bootstrap_servers="a:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="logscrub-worker", sasl_password=PASSWORD, ssl_cafile=cert, ssl_certfile=cert, ssl_keyfile=key,
    ))
    assert kafka_python_kwargs(cfg.kafka) == {
        "bootstrap_servers": ["a:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "logscrub-worker",
        "sasl_plain_password": PASSWORD,
        "ssl_cafile": cert,
        "ssl_certfile": cert,
        "ssl_keyfile": key,
    }
    auth = aiokafka_kwargs(cfg.kafka)
    assert {k: auth[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")} \
        == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "logscrub-worker", "sasl_plain_password": PASSWORD}
    assert auth["ssl_context"].cert_store_stats()["x509_ca"] == 1  # our CA file, not the system's
    credentials = faust_broker_kwargs(cfg.kafka)["broker_credentials"]  # faust's own clients: the same login
    assert (credentials.username, credentials.password, credentials.mechanism.value) == (
        "logscrub-worker", PASSWORD, "SCRAM-SHA-512")
    assert credentials.ssl_context.cert_store_stats()["x509_ca"] == 1
    assert principal(cfg.kafka) == "User:logscrub-worker"


def test_sasl_plaintext_sends_no_tls_settings() -> None:
    cfg = load(None, env=kafka_env(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=PASSWORD))
    kwargs = kafka_python_kwargs(cfg.kafka)
    assert kwargs["sasl_mechanism"] == "PLAIN" and not any(k.startswith("ssl_") for k in kwargs)
    auth = aiokafka_kwargs(cfg.kafka)
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in auth
    assert faust_broker_kwargs(cfg.kafka)["broker_credentials"].ssl_context is None


def test_mutual_tls_gives_faust_a_context_with_the_ca(pem: tuple[str, str]) -> None:
    cert, key = pem
    cfg = load(None, env=kafka_env(security_protocol="SSL", ssl_cafile=cert, ssl_certfile=cert, ssl_keyfile=key))
    assert "sasl_mechanism" not in kafka_python_kwargs(cfg.kafka)
    auth = aiokafka_kwargs(cfg.kafka)
    assert auth["security_protocol"] == "SSL"
    assert auth["ssl_context"].cert_store_stats()["x509_ca"] == 1
    assert faust_broker_kwargs(cfg.kafka)["broker_credentials"].context.cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"security_protocol": "SASL"}, "kafka.security_protocol", ["SASL_SSL"]),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "sasl_username": "u", "sasl_password": "p"},
         "kafka.sasl_mechanism", ["SCRAM-SHA-256"]),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_password": PASSWORD}, "kafka.sasl_username", ["required"]),
        ({"security_protocol": "SASL_SSL", "sasl_username": "u"}, "kafka.sasl_password",
         ["required", "LOGSCRUB_KAFKA__SASL_PASSWORD"]),
        ({"sasl_password": PASSWORD}, "kafka.sasl_password", ["PLAINTEXT", "does not use it"]),
        ({"security_protocol": "SSL", "sasl_username": "u", "sasl_password": PASSWORD}, "kafka.sasl_username",
         ["SSL", "does not use it"]),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "kafka.ssl_cafile",
         ["no such file", "/nonexistent/ca.pem"]),
        ({"ssl_cafile": "/nonexistent/ca.pem"}, "kafka.ssl_cafile", ["PLAINTEXT", "does not use it"]),
    ],
)
def test_bad_settings_name_the_key_and_never_the_password(settings: dict[str, str], key: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        load(None, env=kafka_env(**settings))
    assert e.value.key == key
    for word in words:
        assert word in str(e.value)
    assert PASSWORD not in str(e.value)


def test_a_key_file_without_its_certificate_is_an_error(pem: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as e:
        load(None, env=kafka_env(security_protocol="SSL", ssl_keyfile=pem[1]))
    assert e.value.key == "kafka.ssl_keyfile"


def test_a_ca_file_that_is_not_pem_is_named_when_the_worker_builds_its_context(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    cfg = load(None, env=kafka_env(security_protocol="SSL", ssl_cafile=str(tmp_path / "ca.pem")))
    with pytest.raises(ConfigError) as e:
        faust_broker_kwargs(cfg.kafka)
    assert e.value.key == "kafka.ssl_cafile"


def test_config_check_reports_an_unused_password_without_quoting_it(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSCRUB_KAFKA__SASL_PASSWORD", PASSWORD)
    assert main(["config", "check"]) == 2
    out = capsys.readouterr()
    assert "kafka.sasl_password" in out.err
    assert PASSWORD not in out.out + out.err


def test_config_show_masks_the_password_and_stays_loadable(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in kafka_env(security_protocol="SASL_SSL", sasl_username="analyst", sasl_password=PASSWORD).items():
        monkeypatch.setenv(name, value)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out
    shown = yaml.safe_load(out)["kafka"]
    assert (shown["sasl_password"], shown["sasl_username"]) == (MASK, "analyst")
    monkeypatch.delenv("LOGSCRUB_KAFKA__SASL_PASSWORD")
    (tmp_path / "shown.yaml").write_text(out)
    assert load(tmp_path / "shown.yaml", env={}).kafka.sasl_password == MASK


def sasl_config(bootstrap: str = "127.0.0.1:9") -> Config:
    return load(None, env=kafka_env(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT",
                                    sasl_username="analyst", sasl_password=PASSWORD))


def test_a_refused_read_names_principal_operation_and_topic() -> None:
    message = str(refusal(sasl_config().kafka, TopicAuthorizationFailedError({"security.raw"}), "READ", "topic x"))
    assert message == (
        "Kafka refused User:analyst READ on topic security.raw: ask your Kafka admin, or see `logscrub topics acl`"
    )


def test_a_refusal_names_what_kafka_refused_when_it_is_not_the_callers_resource() -> None:
    cfg = sasl_config()
    assert "READ on its consumer group:" in str(refusal(cfg.kafka, GroupAuthorizationFailedError("g"), "READ", "topic t"))
    # A message in place of topic names: the caller's resource stands.
    error = TopicAuthorizationFailedError("Not authorized to access topics: [t]")
    assert "WRITE on topic t:" in str(refusal(cfg.kafka, error, "WRITE", "topic t"))


def test_refused_clearly_turns_authorization_errors_into_refused() -> None:
    with pytest.raises(Refused, match="Kafka refused User:analyst READ on topic logs.rejected"):
        with refused_clearly(sasl_config().kafka, "READ", "topic logs.rejected"):
            raise TopicAuthorizationFailedError("logs.rejected")


def test_a_timeout_without_security_is_left_to_the_caller() -> None:
    with pytest.raises(KafkaTimeoutError):
        with refused_clearly(load(None, env={}).kafka, "READ", "topic t"):
            raise KafkaTimeoutError("Unable to bootstrap")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_timeout_with_no_broker_behind_it_stays_a_timeout() -> None:
    with pytest.raises(KafkaTimeoutError):
        with refused_clearly(sasl_config(f"127.0.0.1:{closed_port()}").kafka, "READ", "topic t"):
            raise KafkaTimeoutError("Unable to bootstrap")


@pytest.fixture
def not_tls() -> Iterator[int]:
    """A port that answers, but not with TLS: a broker's plaintext listener, say."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" * 20)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=5)


def test_a_timeout_behind_a_failed_tls_handshake_says_so(not_tls: int, pem: tuple[str, str]) -> None:
    cfg = load(None, env=kafka_env(bootstrap_servers=f"127.0.0.1:{not_tls}", security_protocol="SSL",
                                   ssl_cafile=pem[0]))
    with pytest.raises(Refused, match=f"the TLS handshake with Kafka at 127.0.0.1:{not_tls} failed"):
        with refused_clearly(cfg.kafka, "READ", "topic t"):
            raise KafkaTimeoutError("Unable to bootstrap")
