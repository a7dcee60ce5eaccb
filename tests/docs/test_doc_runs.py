"""The examples of README.md and docs/*.md that run here, run (issue 18): each doc's blocks in order
in a sandbox that looks like a checkout, and what a doc shows a command print is what it prints.
The blocks that need a broker run in tests/integration/test_doc_examples_kafka.py; what a block is
and how it is checked: tests/doc_examples.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from doc_examples import DOCS, RUN, Sandbox, blocks, run_blocks

LOCAL = [doc for doc in DOCS if any(b.kind == RUN for b in blocks(doc))]


@pytest.mark.parametrize("doc", LOCAL)
def test_the_examples_of_a_doc_run_here(doc: str, tmp_path: Path) -> None:
    doc_blocks = blocks(doc)
    assert run_blocks(doc_blocks, {RUN}, Sandbox(tmp_path)) == sum(b.kind == RUN for b in doc_blocks)
