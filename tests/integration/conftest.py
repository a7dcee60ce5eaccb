"""A real single-node Kafka broker for the integration tests, started once per test session.

The suite starts its own broker (scripts/kafka.sh) in a temporary state dir, so it never depends on
a developer's `make kafka-up`. A broker that cannot start fails the tests: a skip would turn a
broken setup into a green run.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

_HERE = Path(__file__).resolve().parent
_KAFKA_SH = _HERE.parents[1] / "scripts" / "kafka.sh"
# Generous: on a fresh machine `up` first downloads the broker's jars.
_UP_TIMEOUT_S = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration, so `-m 'not kafka'` runs without a broker."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.kafka)


def _kafka_sh(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(_KAFKA_SH), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The "host:port" of a broker that lives for the whole session."""
    state_dir = tmp_path_factory.mktemp("kafka")
    started = _kafka_sh("up", str(state_dir), timeout=_UP_TIMEOUT_S)
    if started.returncode != 0:
        pytest.fail(
            f"the Kafka broker did not start (kafka.sh up exited {started.returncode}):\n"
            f"{started.stdout}{started.stderr}",
            pytrace=False,
        )
    try:
        yield (state_dir / "bootstrap").read_text().strip()
    finally:
        stopped = _kafka_sh("down", str(state_dir), timeout=120)
        assert stopped.returncode == 0, f"kafka.sh down failed:\n{stopped.stdout}{stopped.stderr}"


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="logscrub-tests")
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name (or prefix) no other test or earlier run uses: tests share one broker."""
    test = re.sub(r"[^A-Za-z0-9-]+", "-", request.node.name).strip("-")[:120]
    return f"t-{test}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A broker a test module may stop and restart, (bootstrap, state dir): the session broker is shared."""
    state_dir = tmp_path_factory.mktemp("restartable-kafka")
    started = _kafka_sh("up", str(state_dir), timeout=_UP_TIMEOUT_S)
    assert started.returncode == 0, f"kafka.sh up failed:\n{started.stdout}{started.stderr}"
    try:
        yield started.stdout.strip(), state_dir
    finally:
        _kafka_sh("down", str(state_dir), timeout=120)
