"""Acknowledgements of the partials topic go out in offset order (run/acks.py): faust commits the
first run of consecutive acknowledged offsets wherever it starts, so a slot's events held behind
acknowledged partials were committed past and lost in a crash (5,000 of 20,000 lines' events)."""

from logscrub.run.acks import InOrderAcks


def acks() -> InOrderAcks[tuple[int, int]]:
    return InOrderAcks(lambda handle: handle)


def test_a_handle_waits_for_every_earlier_one_of_its_partition():
    a = acks()
    for offset in range(4):
        a.received((0, offset))
    a.received((1, 0))
    assert a.done([(0, 1), (0, 2), (1, 0)]) == [(1, 0)]  # offset 0 of partition 0 is still held
    assert a.done([(0, 0)]) == [(0, 0), (0, 1), (0, 2)]
    assert a.waiting() == 1
    assert a.done([(0, 3)]) == [(0, 3)] and a.waiting() == 0


def test_a_revoked_partition_is_forgotten_and_unknown_handles_are_ignored():
    a = acks()
    a.received((0, 5))
    a.received((0, 6))
    a.forget([0])
    assert a.done([(0, 6), (0, 5), (3, 1)]) == [] and a.waiting() == 0


def test_a_partition_replays_until_it_has_read_what_its_end_was_when_it_came():
    from logscrub.run.acks import Replaying

    r = Replaying()
    assert r.at(0, 10, lambda: 13) == {0}  # given with offsets 10-12 unread: replaying
    assert r.at(1, 0, lambda: 1) == {0}  # partition 1 is read to its end at once, but 0 is not
    assert r.replaying()
    assert not r.at(0, 12, lambda: 99)  # caught up; its end as first read is what counts
    assert r.at(2, 0, lambda: 5) == {2} and not r.forget({2})


def test_reading_marks_back_holds_every_slot_like_a_replay():
    """While a partition's marks are read back, its days' counts and waiting events are in part:
    the timer must not write a day's own slot on them (the log's days are over by the wall clock)."""
    from logscrub.run.acks import Replaying

    r = Replaying()
    assert not r.replaying()
    r.restoring |= {(0, 0), (1, 0)}
    assert r.at(0, 0, lambda: 1) == {0, 1}  # partition 0 read to its end, but marks are still being read
    r.restoring.discard((0, 0))
    assert r.partitions() == {1} and r.replaying()  # partition 1's still are
    r.restoring.discard((1, 0))
    assert not r.replaying()
