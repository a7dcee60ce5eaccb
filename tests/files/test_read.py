"""files/read.Inputs: lines at file speed, a position for progress, one clear error per bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from logscrub.files.read import InputError, Inputs


def test_lines_of_plain_and_gzip_inputs_in_turn(tmp_path):
    plain, packed = tmp_path / "a.log", tmp_path / "b.log.gz"
    plain.write_bytes(b"one\ntwo\n")
    packed.write_bytes(gzip.compress(b"three\nfour"))
    inputs = Inputs([str(plain), str(packed)])
    assert list(inputs) == [b"one\n", b"two\n", b"three\n", b"four"]


def test_position_counts_stored_bytes_so_gzip_progress_ends_at_100_percent(tmp_path):
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress(b"".join(b"line %d with some text\n" % i for i in range(200_000)), 1))
    plain = tmp_path / "small.log"
    plain.write_bytes(b"x\n" * 1000)
    inputs = Inputs([str(packed), str(plain)])
    assert inputs.total == packed.stat().st_size + plain.stat().st_size
    seen = []
    for n, _ in enumerate(inputs, 1):
        if n % 20_000 == 0:
            seen.append(inputs.position())
    assert seen == sorted(seen) and 0 < seen[0] < packed.stat().st_size  # compressed bytes, not text
    assert inputs.position() == inputs.total


def test_a_pipe_has_no_size(tmp_path):
    assert Inputs(["-"]).total is None  # pytest's stdin is no regular file
    assert Inputs(["-"]).interactive


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.log", "no such file: "),
    (lambda d: d, " is a directory, not a log file"),
])
def test_an_unreadable_input_is_one_input_error(tmp_path, make, message):
    name = str(make(tmp_path))
    with pytest.raises(InputError, match=message):
        list(Inputs([name]))
    with pytest.raises(InputError, match=message):
        list(Inputs([name]).batches(100))


def test_a_truncated_gzip_is_named(tmp_path):
    whole = gzip.compress(b"a line\n" * 10_000)
    bad = tmp_path / "cut.log.gz"
    bad.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"cut\.log\.gz ends in the middle of its gzip data"):
        list(Inputs([str(bad)]))


def test_batches_split_lines_across_reads_and_cut_overlong_ones(tmp_path):
    lines = [b"short", b"x" * 200_000, b"after", b"y" * 70_000 + b"z", b"", b"last"]
    src = tmp_path / "in.log"
    src.write_bytes(b"\n".join(lines))  # no newline at the end
    got = [line for batch in Inputs([str(src)]).batches(max_line=1000) for line in batch]
    assert got == [b"short", b"x" * 1001, b"after", b"y" * 1001, b"", b"last"]
