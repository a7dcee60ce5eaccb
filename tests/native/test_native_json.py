"""JSON as the compiled core writes and reads it is orjson's, byte for byte: records, envelopes, any
value a record can hold; and the float formatting and rounding the reference leans on."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from corpora import needs_native
from logscrub import native

pytestmark = needs_native

text = st.text(st.characters(exclude_categories=("Cs",)))
scalars = (
    st.none() | st.booleans() | text
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5), max_leaves=30)


@settings(max_examples=600, deadline=None)
@given(values)
@example("".join(chr(c) for c in range(0x80)) + "\u2028\u2029\ufeff\U0010ffff")
@example({"ingested": 1764324000.123, "x": 1e16, "y": 1e-05, "z": -0.0, "n": float("nan")})
def test_dumps_is_orjson(value):
    assert native.dumps(value) == orjson.dumps(value)


def test_dumps_refuses_what_orjson_refuses():
    for bad in (2**64, -(2**63) - 1, {1: "a"}, object()):
        with pytest.raises(TypeError):
            orjson.dumps(bad)
        with pytest.raises(TypeError):
            native.dumps(bad)


JSONISH = st.lists(
    st.sampled_from(list('{}[]",:0123456789-+.eE \t\n\r\\/ubfnrtaxlsTFN\x01\ufeffé') + ["\\u00e9", "\\ud83d\\ude00", "\\ud800", "true", "null"]),
    max_size=40,
).map("".join)


def _loads_ok(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(JSONISH | st.builds(orjson.dumps, values).map(bytes.decode))
@example("[" * 1024 + "]" * 1024)
@example("[" * 1025 + "]" * 1025)
@example('{"a": 1, "a": 2}')
@example("1e400")
@example("-0")
@example("\ufeff{}")
@example('"\\ud800\\udc00"')
def test_the_reader_accepts_what_orjson_accepts(text):
    assert native.module().loads_ok(text) == _loads_ok(text)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
@example(1e16)
@example(1e-05)
@example(0.0001)
@example(-0.0)
@example(5e-324)
@example(1.7976931348623157e308)
@example(562949953421312.25)  # a tie between ...2 and ...3: Python takes the even digit
def test_float_repr_is_pythons(f):
    assert native.module().py_float_repr(f) == repr(f)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**42).map(lambda n: n / 16384))
@example(2.0625)
@example(1764324000.0625)
@example(0.0005)
@example(-0.0001)
def test_round_to_milliseconds_is_pythons(f):
    got = native.module().py_round3(f)
    assert got == round(f, 3) and math.copysign(1, got) == math.copysign(1, round(f, 3))
