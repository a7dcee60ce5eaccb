"""The examples of README.md and docs/*.md that need a broker, run against the suite's broker
(issue 18): the topics commands, the analysts' consumer, the responders' commands. One worker
first processes the bundled sample into a private set of topics, so the consumer reads real
windows and the responders search real sealed lines; then every `run on the test broker` block
runs in doc order, with the topics' names and the master key in its environment, as the docs say
they are on a deployment. Which blocks these are: tests/doc_examples.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from doc_examples import DOCS, KAFKA, ROOT, Sandbox, blocks, run_blocks
from logscrub.crypto import master
from pipeline_env import Pipeline, sources

SAMPLE = ROOT / "samples" / "access.log"


@pytest.fixture(scope="module")
def processed(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The bundled sample through one worker: every line sealed or rejected, and windows published."""
    tmp = tmp_path_factory.mktemp("doc-examples-worker")
    pipeline = Pipeline(kafka_bootstrap, f"t-docs-{uuid.uuid4().hex[:8]}", tmp)
    try:
        sent = pipeline.produce(SAMPLE.read_bytes().splitlines())
        pipeline.start_worker()
        pipeline.wait_for("every sample line sealed or rejected",
                          lambda: len(set(sources(pipeline.read("security") + pipeline.read("rejected")))) >= sent,
                          timeout=300)
        pipeline.wait_for("a published path window", lambda: any(
            r["span"] == "1m" and r["dimension"] == "path" for r in pipeline.read("traffic")), timeout=120)
        yield pipeline
    finally:
        pipeline.stop_all()


def test_the_examples_that_need_a_broker_run_against_it(processed: Pipeline, tmp_path: Path) -> None:
    env = {k: v for k, v in processed.env.items() if k != master.ENV}
    sandbox = Sandbox(tmp_path, extra_env=env, master_key=processed.env[master.ENV])
    context = {"kafka": processed.bootstrap, **{role: processed.topic(role) for role in ("events", "traffic")}}
    ran = 0
    for doc in DOCS:
        doc_blocks = blocks(doc)
        ran += run_blocks(doc_blocks, {KAFKA}, sandbox, context)
    assert ran == sum(b.kind == KAFKA for doc in DOCS for b in blocks(doc)) >= 4
