"""A broker with SASL/PLAIN and the standard authorizer: the ACLs of `logscrub topics acl` are enough
for each principal's job, and no more."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePatternFilter
from kafka.admin import ResourceType
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError

from logscrub.config import Config, KafkaConfig, load
from logscrub.errors import Refused
from logscrub.kafka.acl import Principals, desired_acls, to_acls
from logscrub.kafka.refusals import refused_clearly
from logscrub.kafka.settings import kafka_python_kwargs
from logscrub.kafka.scan import read_topic

ROOT = Path(__file__).resolve().parents[2]
_KAFKA_SH = ROOT / "scripts" / "kafka.sh"
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
    # The log's hour is long over: its events are written once no line came for the allowed lateness,
    # the pipeline tests' 10 s rather than the default minute (this test is about ACLs, not lateness).
    worker_env = {**cluster.env("logscrub-worker"), **master, "LOGSCRUB_INPUT__FORMAT": "combined",
                  "LOGSCRUB_AGGREGATE__ALLOWED_LATENESS": "10s"}
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


def _join_and_commit(k: KafkaConfig, group: str, topic: str) -> int:
    """Join ``group`` on ``topic`` as ``k``'s principal, read a record and commit: the offset committed.

    A group the principal may not use raises GroupAuthorizationFailedError from the first poll.
    """
    consumer = KafkaConsumer(topic, **kafka_python_kwargs(k), group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000)
    try:
        deadline = time.monotonic() + 60
        while not any(consumer.poll(timeout_ms=1000).values()):
            assert time.monotonic() < deadline, f"no record of {topic} in group {group} within 60s"
        consumer.commit()
        (tp,) = consumer.assignment()
        committed = consumer.committed(tp)
        assert committed is not None
        return committed
    finally:
        consumer.close()


def test_the_analyst_joins_groups_under_the_prefix_and_no_other(cluster: Cluster) -> None:
    """Issue 16 item 4: a tool of the analyst's may use analytics-*, never the workers' groups nor any
    other group (a member of the workers' group would take partitions from them)."""
    admin, analyst = cluster.config("admin"), cluster.config("analyst")
    producer = KafkaProducer(**kafka_python_kwargs(admin.kafka), acks="all")
    producer.send(admin.topics.events.name, b'{"schema":"logscrub.event/2"}').get(timeout=30)
    producer.close()
    assert analyst.kafka.analyst_group_prefix == "analytics-"
    assert _join_and_commit(analyst.kafka, "analytics-dashboard", admin.topics.events.name) >= 1
    for group in (admin.kafka.app_id, f"{admin.kafka.app_id}.raw", "dashboard"):
        with pytest.raises(GroupAuthorizationFailedError):
            _join_and_commit(analyst.kafka, group, admin.topics.events.name)


def test_the_responder_may_not_join_the_workers_groups(cluster: Cluster) -> None:
    admin, responder = cluster.config("admin"), cluster.config("responder")
    for group in (admin.kafka.app_id, f"{admin.kafka.app_id}.raw"):
        with pytest.raises(GroupAuthorizationFailedError):
            _join_and_commit(responder.kafka, group, admin.topics.security.name)


def _acl_command_jars() -> Path:
    """Kafka's tools jars (AclCommand is what kafka-acls.sh runs), at kafka/pom.xml's Kafka version,
    fetched from Maven Central once into .kafka/tools-libs."""
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", (ROOT / "kafka" / "pom.xml").read_text())
    assert version, "kafka/pom.xml names no kafka.version"
    pom = Path(__file__).with_name("kafka-tools.pom.xml")
    libs = ROOT / ".kafka" / "tools-libs"
    stamp = hashlib.sha256(pom.read_bytes() + version[1].encode()).hexdigest()
    if not (libs / ".stamp").is_file() or (libs / ".stamp").read_text() != stamp:
        done = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), f"-Dkafka.version={version[1]}", "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        (libs / ".stamp").write_text(stamp)
    return libs


def test_the_kafka_acls_commands_create_exactly_the_acls_apply_would(cluster: Cluster) -> None:
    """The printed kafka-acls.sh commands, run by Kafka's own AclCommand as admin, for principals of
    their own: the broker then holds exactly the ACLs `topics acl --apply` would create for them."""
    libs = _acl_command_jars()
    bin_dir = cluster.tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "kafka-acls.sh"  # what Kafka's script does: run AclCommand on its jars
    shim.write_text(f'#!/bin/sh\nexec java -Xmx256m -XX:TieredStopAtLevel=1 -cp "{libs}/*" '
                    f'org.apache.kafka.tools.AclCommand "$@"\n')
    shim.chmod(0o755)
    properties = cluster.tmp / "admin.properties"
    properties.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{cluster.passwords["admin"]}";\n'
    )
    properties.chmod(0o600)
    roles = ("--workers", "User:w2", "--shippers", "User:s2", "--analysts", "User:a2", "--responders", "User:r2")
    printed = cluster.cli("admin", "topics", "acl", "--format", "kafka-acls", "--command-config", str(properties),
                          *roles)
    assert printed.returncode == 0, printed.stderr
    commands = printed.stdout.splitlines()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for command in commands:
        done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"

    wanted = to_acls(desired_acls(cluster.config("admin"), Principals("User:w2", "User:s2", "User:a2", "User:r2")))
    admin = KafkaAdminClient(**kafka_python_kwargs(cluster.config("admin").kafka))
    try:
        every = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                          permission_type=ACLPermissionType.ANY,
                          resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
        existing, _ = admin.describe_acls(every)
    finally:
        admin.close()
    theirs = {a for a in existing if a.principal in ("User:w2", "User:s2", "User:a2", "User:r2")}
    assert theirs == set(wanted) and len(commands) < len(wanted)
    again = cluster.cli("admin", "topics", "acl", "--apply", *roles)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{len(wanted)} of {len(wanted)} ACLs were already in place\n"


def test_the_analyst_reports_on_the_analytics_topics_with_their_own_access(cluster: Cluster) -> None:
    admin = cluster.config("admin")
    producer = KafkaProducer(**kafka_python_kwargs(admin.kafka), acks="all")
    producer.send(admin.topics.traffic.name, json.dumps({
        "schema": "logscrub.traffic/2", "id": "f" * 20, "window_start": "2026-11-28T10:00:00Z",
        "window_end": "2026-11-28T10:01:00Z", "span": "1m", "site": "sasl.example", "dimension": "total",
        "value": "", "requests": 5, "bytes": 5, "visitors": 5,
    }).encode()).get(timeout=30)  # fmt: skip
    producer.close()
    done = cluster.cli("analyst", "report", "--topics", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["traffic"]["windows"]["sasl.example"] == {"1m": 1}
    refused = cluster.cli("responder", "report", "--topics")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines()[-1] == (
        "logscrub: Kafka refused User:responder READ on topic analytics.events: ask your Kafka admin, "
        "or see `logscrub topics acl`"
    )
