"""The window owner's emissions reach the topics in the order they were made (``run/emitter.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from logscrub.run.emitter import Emitter
from logscrub.scrub.slots import EVENTS
from logscrub.scrub.windows import Emission


class _Sink:
    """Records what is handed to it, in order; the first closing record's delivery waits for ``release``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.release = asyncio.Event()

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None) -> asyncio.Future[Any]:
        record = orjson.loads(value or b"null")
        self.sent.append((topic, record))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if record.get("closing") and len(self.sent) == 1:
            self.release_task = asyncio.ensure_future(self._deliver_later(done))
        else:
            done.set_result(None)
        return done

    async def _deliver_later(self, done: asyncio.Future[Any]) -> None:
        await self.release.wait()
        done.set_result(None)

    async def write(self, topic: str, values: list[bytes], *, timestamps: list[int]) -> list[Any]:
        self.sent += [(topic, orjson.loads(v)) for v in values]
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return [(topic, done)]


class _Cpu:
    def inc(self, amount: float = 1) -> None:
        pass


def _slot(start: int) -> Emission[Any]:
    base = {"site": "s", "span": EVENTS, "window": start}
    return Emission(closing=[{**base, "closing": True, "by": "w", "upto": start}],
                    events=[{"id": f"{start}.0"}], event_stamps=[start * 1000],
                    forward=[{**base, "written": True, "by": "w", "joins": []}])  # fmt: skip


def test_a_later_emission_waits_for_an_earlier_one_whose_closing_record_is_not_delivered_yet():
    """The agent and the idle timer both emit. Slot 3600's marks must not land before slot 0's: a
    crash losing slot 0's marks only would have its rewrite count slot 3600's joins (red-team
    round 10, F1)."""

    async def run() -> list[tuple[str, Any]]:
        sink = _Sink()
        emitter = Emitter(sink, "partials", "traffic", "events", _Cpu())
        first = asyncio.ensure_future(emitter.send(_slot(0)))
        second = asyncio.ensure_future(emitter.send(_slot(3600)))
        for _ in range(20):  # let the second run as far as it can while the first waits on the broker
            await asyncio.sleep(0)
        assert [r["window"] for _, r in sink.sent] == [0]
        sink.release.set()
        await asyncio.gather(first, second)
        return sink.sent

    sent = asyncio.run(run())
    kinds = [(topic, r.get("window", r.get("id")), "closing" if r.get("closing") else "mark" if r.get("written")
              else "event") for topic, r in sent]  # fmt: skip
    assert kinds == [
        ("partials", 0, "closing"), ("events", "0.0", "event"), ("partials", 0, "mark"),
        ("partials", 3600, "closing"), ("events", "3600.0", "event"), ("partials", 3600, "mark"),
    ]  # fmt: skip


def test_an_emission_of_partitions_given_up_meanwhile_stops_after_its_closing_records():
    """A revoked worker still sending (past its 10 s wait) wrote a slot whose closing record landed
    after the next owner had read on: two copies, their union past the cap in 1 of 600 simulated
    runs (red-team round 11, F4). Its partials are not acknowledged: the next owner writes the slot once."""

    async def run(taken: list[bool]) -> tuple[list[Any] | None, list[tuple[str, Any]]]:
        sink = _Sink()
        sink.release.set()
        emitter = Emitter(sink, "partials", "traffic", "events", _Cpu())
        sending = asyncio.ensure_future(emitter.send(_slot(0), lambda: not taken[0]))
        await asyncio.sleep(0)
        taken[0] = True  # revoked while its closing record is on its way
        return await sending, sink.sent

    written, sent = asyncio.run(run([False]))
    assert written is None and [(topic, r.get("closing")) for topic, r in sent] == [("partials", True)]
    written, sent = asyncio.run(run([True]))  # revoked before its turn came: nothing at all
    assert written is None and sent == []
