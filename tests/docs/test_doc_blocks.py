"""The docs cannot drift from the code (issue 18): every fenced block of README.md and docs/*.md is
classified and checked, prose names real commands, options, volumes, files and tests, no doc holds
a placeholder, and the generated figures are those of the latest benchmark results.

What runs where: tests/docs/test_doc_runs.py runs the blocks that run here, and
tests/integration/test_doc_examples_kafka.py the ones that need the broker; this module checks
everything statically, and proves with mutated copies of the docs that a wrong flag, a missing
volume, a placeholder or stale figures fail it."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench import docs as bench_docs
from doc_examples import (
    DOCS, KAFKA, OUTPUT, ROOT, RUN, SKIP, STATIC, Ran, Sandbox, all_blocks, blocks, placeholders, prose_problems,
    reference_problems, run_blocks, static_problems,
)

BLOCKS = all_blocks()


def _doc(name: str) -> str:
    return (ROOT / name).read_text()


def _block(doc: str, text: str, containing: str):
    (found,) = [b for b in blocks(doc, text) if containing in b.text]
    return found


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_every_block_is_classified_and_passes_its_static_checks(block) -> None:
    assert block.kind in (RUN, KAFKA, OUTPUT, STATIC, SKIP), block.reason
    assert static_problems(block) == []


def test_the_walker_sees_every_doc_and_runs_most_commands() -> None:
    assert {"README.md", "docs/privacy.md", "docs/performance.md", "docs/security.md"} <= set(DOCS)
    assert DOCS == ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
    kinds = Counter(b.kind for b in BLOCKS)
    assert kinds[RUN] >= 8 and kinds[KAFKA] >= 4 and kinds[OUTPUT] >= 1, kinds
    # A block that cannot run says why, and a static block has commands or config to check.
    for b in BLOCKS:
        if b.kind in (STATIC, SKIP):
            assert len(b.reason) > 5, b.where


def test_an_output_block_follows_a_block_that_runs() -> None:
    for doc in DOCS:
        previous = None
        for b in blocks(doc):
            if b.kind == OUTPUT:
                assert previous is not None and previous.kind in (RUN, KAFKA), f"{b.where}: output of what?"
            previous = b


@pytest.mark.parametrize("doc", DOCS)
def test_prose_names_real_commands_options_and_volumes(doc: str) -> None:
    assert prose_problems(doc) == []


@pytest.mark.parametrize("doc", DOCS)
def test_files_tests_and_links_the_docs_name_exist(doc: str) -> None:
    assert reference_problems(doc) == []


GENERATED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("*.md"))


@pytest.mark.parametrize("doc", DOCS + GENERATED)
def test_no_doc_holds_a_placeholder(doc: str) -> None:
    assert placeholders(doc) == []


def test_the_docs_show_the_figures_of_the_latest_bench_results() -> None:
    """Every bench:NAME section is exactly what bench/docs.py renders from the JSON results, so a
    doc can hold neither hand-edited figures nor ones older than bench/results.json."""
    assert bench_docs.stale() == []


# --- the checks catch drift: mutated copies of the docs ---------------------------------------------------


def test_a_wrong_flag_in_a_block_that_runs_fails() -> None:
    text = _doc("README.md").replace("security search --ip 198.51.100.7 --since 6h", "security search --ip "
                                     "198.51.100.7 --since-time 6h")
    problems = static_problems(_block("README.md", text, "--since-time"))
    assert problems and "--since-time" in problems[0]


def test_a_wrong_flag_or_service_in_a_docker_block_fails() -> None:
    base = _doc("README.md")
    for old, new, named in (
        ("--scale worker=2", "--scale workers=2", "workers"),
        ("logscrub keys init master.key ", "logscrub keys init --mode 600 master.key ", "--mode"),
        ("docker compose up -d   ", "docker compose run --rm -v worker-keys:/keys topics keys status", "worker-keys"),
        ("LOGS_DIR=/var/log/nginx docker", "LOG_DIR=/var/log/nginx docker", "LOG_DIR"),
    ):
        assert old in base, old
        block = _block("README.md", base.replace(old, new), new)
        assert block.kind == STATIC
        problems = static_problems(block)
        assert problems and named in " ".join(problems), (new, problems)


def test_a_volume_the_compose_file_lacks_fails_in_prose() -> None:
    text = _doc("README.md")
    assert "`shipper-state` volume" in text
    assert prose_problems("README.md", text) == []
    problems = prose_problems("README.md", text.replace("`shipper-state` volume", "`worker-keys` volume"))
    assert problems and "worker-keys" in problems[0]
    assert '-v "$PWD:/out" topics keys init' in text
    problems = prose_problems("README.md", text.replace('-v "$PWD:/out" topics', "-v worker-keys:/out topics"))
    assert problems and "worker-keys" in problems[0]


def test_a_wrong_option_in_prose_fails() -> None:
    text = _doc("docs/operations.md")
    old = "`logscrub ship --follow --offsets FILE LOG...`"
    assert old in text
    problems = prose_problems("docs/operations.md", text.replace(old, "`logscrub ship --follow --offset FILE LOG...`"))
    assert problems and "--offset" in problems[0]
    old = "`logscrub topics acl --format kafka-acls"
    assert old in text
    problems = prose_problems("docs/operations.md", text.replace(old, "`logscrub topics acl --format kafka"))
    assert problems and "kafka-acls" in problems[0]


def test_a_typo_in_a_variable_a_target_a_file_or_a_config_key_fails() -> None:
    readme = _doc("README.md")
    cases = [
        ("README.md", readme, "export LOGSCRUB_KAFKA__BOOTSTRAP_SERVERS", "export LOGSCRUB_KAFKA__BOOTSRAP_SERVERS"),
        ("README.md", readme, "make kafka-down", "make kafka-stop"),
        ("README.md", readme, "< examples/clickhouse/tables.sql", "< examples/clickhouse/table.sql"),
        ("docs/operations.md", _doc("docs/operations.md"), "sasl_mechanism: SCRAM-SHA-512",
         "sasl_mechanism: SCRAM-SHA-1024"),
        ("docs/operations.md", _doc("docs/operations.md"), "  sasl_username:", "  sasl_user:"),
    ]
    for doc, text, old, new in cases:
        assert old in text, old
        (block,) = [b for b in blocks(doc, text.replace(old, new)) if new.strip() in b.text]
        assert static_problems(block), new


def test_an_unmarked_block_that_cannot_run_fails() -> None:
    text = _doc("README.md").replace("<!-- not checked: a diagram -->\n", "")
    problems = static_problems(_block("README.md", text, "access log lines"))
    assert problems and "marker" in problems[0]


def test_a_wrong_reference_fails() -> None:
    text = _doc("docs/delivery.md")
    assert "`tests/files/test_follow.py::test_disk_full_keeps_the_previous_offsets`" in text
    problems = reference_problems("docs/delivery.md", text.replace("tests/files/test_follow.py", "tests/test_follow.py"))
    assert problems and "tests/test_follow.py" in problems[0]
    problems = reference_problems("docs/delivery.md", text.replace("::test_disk_full_keeps", "::test_disk_fills"))
    assert problems and "test_disk_fills" in problems[0]


def test_a_placeholder_fails() -> None:
    text = _doc("docs/performance.md")
    assert placeholders("docs/performance.md", text) == []
    assert placeholders("docs/performance.md", text.replace("## Memory\n", "## Memory\n\nMEMORY\n"))
    assert placeholders("docs/architecture.md", _doc("docs/architecture.md") + "\nX\n")
    emptied = re.sub(r"(<!-- bench:memory -->\n).*?(<!-- /bench:memory -->)", r"\1\2", text, flags=re.S)
    assert any("bench:memory" in p for p in placeholders("docs/performance.md", emptied))


def test_figures_edited_by_hand_or_older_than_the_results_fail(tmp_path: Path) -> None:
    for doc in {d for d, _, _ in bench_docs.SECTIONS.values()}:
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / doc, tmp_path / doc)
    assert bench_docs.stale(tmp_path) == []
    perf = tmp_path / "docs" / "performance.md"
    text = perf.read_text()
    first = re.search(r"\| \*\*([\d.]+)\*\* \|", text)
    assert first
    perf.write_text(text.replace(first[0], "| **9.99** |", 1))
    assert any("bench:figures" in p for p in bench_docs.stale(tmp_path))
    perf.write_text(text.replace("<!-- bench:soak -->", "<!-- bench:soaked -->"))
    assert any("bench:soak" in p for p in bench_docs.stale(tmp_path))


def test_output_the_doc_shows_but_the_command_does_not_print_fails(tmp_path: Path) -> None:
    text = "```sh\necho 4,999 records\n```\n\n<!-- output of the block above -->\n```text\n5,000 records\n```\n"
    doc_blocks = blocks("README.md", text)
    with pytest.raises(AssertionError, match="5,000 records"):
        run_blocks(doc_blocks, {RUN}, Sandbox(tmp_path))
    assert run_blocks(blocks("README.md", text.replace("5,000", "4,999")), {RUN}, Sandbox(tmp_path / "again")) == 1


def test_ran_explains_a_failure() -> None:
    (block,) = blocks("README.md", "```sh\nfalse\n```\n")
    assert "README.md:1" in Ran(1, "", "boom").explain(block)
