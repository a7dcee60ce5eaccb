"""A broker with SASL/PLAIN and the standard authorizer: the ACLs of `logscrub topics acl` are enough
for each principal's job, and no more."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from logscrub.config import Config, load
from logscrub.errors import Refused
from logscrub.kafka.acl import Principals, desired_acls, to_acls
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.scan import read_topic

_KAFKA_SH = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"
USERS = ("admin", "analyst", "responder", "logscrub-worker", "logscrub-shipper")


@dataclass
class Cluster:
    bootstrap: str
    passwords: dict[str, str]
    tmp: Path

    def env(self, user: str, password: str | None = None) -> dict[str, str]:
        """The environment of a logscrub process logging in as ``user``."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LOGSCRUB_")}
        return {
            **clean,
            "LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "LOGSCRUB_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "LOGSCRUB_KAFKA__SASL_USERNAME": user,
            "LOGSCRUB_KAFKA__SASL_PASSWORD": self.passwords[user] if password is None else password,
            "LOGSCRUB_METRICS__PORT": "0",
        }

    def config(self, user: str) -> Config:
        return load(None, env={k: v for k, v in self.env(user).items() if k.startswith("LOGSCRUB_")})

    def cli(
        self, user: str, *args: str, password: str | None = None, stdin: bytes = b"", extra: dict | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -m logscrub ARGS`` as ``user`` (with ``password`` instead of the right one)."""
        return subprocess.run(
            [sys.executable, "-m", "logscrub", *args],
            env={**self.env(user, password), **(extra or {})},
            input=stdin.decode(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _kafka_sh(command: str, state_dir: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["bash", str(_KAFKA_SH), command, str(state_dir)], capture_output=True, text=True,
                          timeout=600, check=False, env=env)
    assert done.returncode == 0, f"kafka.sh {command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A SASL broker of this module's own, with the topics and the ACLs applied by admin through the CLI."""
    state_dir = tmp_path_factory.mktemp("sasl-kafka")
    passwords = {user: secrets.token_urlsafe(12) for user in USERS}
    users = ",".join(f"{user}:{password}" for user, password in passwords.items())
    bootstrap = _kafka_sh("up", state_dir, env={**os.environ, "KAFKA_SASL_USERS": users})
    try:
        c = Cluster(bootstrap, passwords, tmp_path_factory.mktemp("sasl-run"))
        applied = c.cli("admin", "topics", "apply")
        assert applied.returncode == 0, applied.stderr
        assert "created security.raw" in applied.stdout
        acls = c.cli("admin", "topics", "acl", "--apply")
        assert acls.returncode == 0, acls.stderr
        assert "created ALLOW User:analyst READ on topic analytics.traffic" in acls.stdout
        yield c
    finally:
        _kafka_sh("down", state_dir)


def test_applying_the_acls_again_creates_nothing(cluster: Cluster) -> None:
    again = cluster.cli("admin", "topics", "acl", "--apply")
    assert again.returncode == 0, again.stderr
    n = len(to_acls(desired_acls(cluster.config("admin"), Principals())))
    assert again.stdout == f"{n} of {n} ACLs were already in place\n"


def test_the_analyst_reads_analytics_traffic(cluster: Cluster) -> None:
    admin = cluster.config("admin")
    producer = KafkaProducer(**kafka_python_kwargs(admin.kafka), acks="all")
    producer.send(admin.topics.traffic.name, b'{"dimension":"total","requests":1}').get(timeout=30)
    producer.close()
    assert b'{"dimension":"total","requests":1}' in read_topic(cluster.config("analyst").kafka, admin.topics.traffic.name)


def test_the_analyst_is_refused_security_raw_clearly(cluster: Cluster) -> None:
    with pytest.raises(Refused) as e:
        read_topic(cluster.config("analyst").kafka, "security.raw")
    assert str(e.value) == (
        "Kafka refused User:analyst READ on topic security.raw: ask your Kafka admin, or see `logscrub topics acl`"
    )


def test_a_missing_topic_is_not_read_as_empty(cluster: Cluster) -> None:
    with pytest.raises(Refused, match="^topic no.such.topic was not found on the cluster$"):
        read_topic(cluster.config("admin").kafka, "no.such.topic")


def test_a_wrong_password_is_a_clear_error_that_does_not_echo_it(cluster: Cluster) -> None:
    wrong = "not-" + cluster.passwords["analyst"]
    done = cluster.cli("analyst", "ship", "-", password=wrong)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"logscrub: Kafka at {cluster.bootstrap} refused the login of User:analyst (PLAIN): "
        "check kafka.sasl_username and the password (LOGSCRUB_KAFKA__SASL_PASSWORD)"
    )
    assert wrong not in done.stdout + done.stderr


def test_a_mechanism_the_broker_does_not_offer_is_named(cluster: Cluster) -> None:
    cfg = load(None, env={**{k: v for k, v in cluster.env("analyst").items() if k.startswith("LOGSCRUB_")},
                          "LOGSCRUB_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256"})
    # What kafka-python reports after its bootstrap timeout; the check behind it is what is tested.
    with pytest.raises(Refused, match="does not offer SASL mechanism SCRAM-SHA-256: check kafka.sasl_mechanism"):
        with refused_clearly(cfg.kafka, "READ", "topic analytics.traffic"):
            raise KafkaTimeoutError("Unable to bootstrap")


def test_worker_and_shipper_principals_run_the_pipeline_on_their_acls_alone(cluster: Cluster) -> None:
    """The worker (faust) and the shipper log in with their own principals; analysts and responders
    then find the outputs meant for them."""
    n = 20
    lines = b"".join(
        f'192.0.2.{i} - - [28/Nov/2026:10:00:00 +0000] "GET /p/{i} HTTP/1.1" 200 10 "-" "curl/8.5.0"\n'.encode()
        for i in range(n)
    )
    master = {"LOGSCRUB_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    worker_env = {**cluster.env("logscrub-worker"), **master, "LOGSCRUB_INPUT__FORMAT": "combined"}
    with open(cluster.tmp / "worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "logscrub", "worker"], env=worker_env, cwd=cluster.tmp,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        shipped = cluster.cli("logscrub-shipper", "ship", "-", stdin=lines)
        assert shipped.returncode == 0, shipped.stderr
        analyst, responder = cluster.config("analyst"), cluster.config("responder")
        deadline = time.monotonic() + 90
        while len(events := read_topic(analyst.kafka, analyst.topics.events.name)) < n:
            assert worker.poll() is None, f"the worker exited: see {cluster.tmp / 'worker.log'}"
            assert time.monotonic() < deadline, f"{len(events)} of {n} events; see {cluster.tmp / 'worker.log'}"
            time.sleep(0.5)
        assert len(events) == n
        assert len(read_topic(responder.kafka, responder.topics.security.name)) == n
        # The responder searches with the CLI (keys, audit); the analyst is refused by it, clearly.
        found = cluster.cli("responder", "security", "search", "--ip", "192.0.2.7", extra=master)
        assert found.returncode == 0, found.stderr
        assert [json.loads(x)["target"] for x in found.stdout.splitlines()] == ["/p/7"]
        refused = cluster.cli("analyst", "security", "search", extra=master)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.strip().splitlines()[-1] == (
            "logscrub: Kafka refused User:analyst READ on topic security.raw: ask your Kafka admin, "
            "or see `logscrub topics acl`"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert b"AuthorizationFailed" not in (cluster.tmp / "worker.log").read_bytes()
