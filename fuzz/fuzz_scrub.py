"""Coverage-guided fuzzing of the whole per-line pipeline with atheris (optional: `make fuzz`).

Every input gets exactly one outcome (an event or a rejection with a known reason), nothing it
publishes holds a control character or the raw client address, and its sealed line opens to the
input again. Hypothesis covers the same properties in `make test`; atheris explores further.

    .venv/bin/pip install '.[fuzz]'
    .venv/bin/python fuzz/fuzz_scrub.py -max_total_time=60 -max_len=4096
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from logscrub.crypto import envelope
    from logscrub.scrub import build
    from logscrub.config import load
    from logscrub.parsing.formats import REJECT_REASONS

FORMATS = ("auto", "combined", "json", "nginx")
NGINX = '$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" $request_time'


def _scrubber(fmt: str):  # noqa: ANN202 - a test harness
    cfg = load(None, env={"LOGSCRUB_INPUT__FORMAT": fmt, "LOGSCRUB_INPUT__NGINX_LOG_FORMAT": NGINX})
    visitor, data = build.key_rings(cfg, None)
    return build.scrubber(cfg, fmt, visitor, data), data


SCRUBBERS = [_scrubber(fmt) for fmt in FORMATS]


def one_input(data: bytes) -> None:
    if not data:
        return
    scrubber, keys = SCRUBBERS[data[0] % len(SCRUBBERS)]
    line = data[1:]
    o = scrubber.process(line, 1e9, "0:0")
    assert (o.event is None) != (o.reason is None), "exactly one of event and reason"
    if o.reason is not None:
        assert o.reason in REJECT_REASONS, o.reason
    else:
        for value in o.event.values():
            if isinstance(value, str):
                assert value.isprintable(), ascii(value)
        for _, value in o.update.dims:
            assert value.isprintable(), ascii(value)
    opened = envelope.open_sealed(o.sealed, keys.get(o.sealed["kid"]))
    if o.reason == "too_long":
        assert opened == line[: scrubber.max_line]
    else:
        assert opened == line.rstrip(b"\r\n")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
