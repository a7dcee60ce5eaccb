"""The day's vocabulary: values published once k clients showed them, groups that never hold two
events of one client alone, what workers share, and which days are kept."""

from logscrub.scrub.vocabulary import DAYS_KEPT, Vocabulary

SECRET = bytes(32)


def kid(day: int) -> str:
    return f"visitor-202611{day:02d}T000000-ab12cd34"


def test_a_value_is_published_once_k_distinct_clients_showed_it():
    day = Vocabulary(3).day(kid(1), SECRET)
    h = day.value(("p", "site", "/a"))
    assert [day.shown(h, c) for c in (1, 1, 2)] == [False, False, False]
    assert day.shown(h, 3) and day.shown(h, 1)


def test_a_group_never_holds_two_events_of_one_client_alone():
    day = Vocabulary(3).day(kid(1), SECRET)
    g = day.value(("c", "group"))
    assert day.joins(g, 1) and not day.joins(g, 1)
    assert day.joins(g, 2) and day.joins(g, 1) and day.joins(g, 2)  # shared from then on


def test_sightings_and_joins_from_another_worker_count_here():
    here, there = Vocabulary(2), Vocabulary(2)
    h = here.day(kid(1), SECRET).value("v")
    g = here.day(kid(1)).value("g")
    there.day(kid(1), SECRET).shown(h, 7)
    there.day(kid(1)).joins(g, 7)
    for record in there.take_sightings():
        here.merge(record)
    day = here.day(kid(1))
    assert day.shown(h, 8)  # 7 (there) and 8 (here): k = 2
    assert day.joins(g, 8) and day.joins(g, 8)  # the group already held another client


def test_the_day_in_use_is_kept_however_old_and_a_stale_days_records_are_dropped():
    """Red-team finding: read newest day first, the day a key had just been made for was the oldest
    and evicted at once, splitting its vocabulary."""
    v = Vocabulary(2)
    for d in range(20, 20 - DAYS_KEPT, -1):
        v.day(kid(d), SECRET)
    in_use = v.day(kid(10), SECRET)
    assert v.day(kid(10)) is in_use and in_use.value("x") == v.day(kid(10)).value("x")
    assert len(v._days) == DAYS_KEPT
    v.merge({"kid": kid(1), "s": [1, 2], "g": []})  # another worker's record of a day older than all
    assert kid(1) not in v._days and kid(10) in v._days


def test_the_days_kept_are_the_ones_used_last_so_rotated_files_read_newest_first_keep_theirs():
    """Red-team round 2: daily files read newest first straddle midnight, going back and forth
    between two days; evicted by period, 12 of 14 days were counted twice from zero."""
    v = Vocabulary(2)
    first = {}
    for d in range(20, 10, -1):  # each file: mostly its day, a few lines of the day before
        for day in (d, d - 1, d):
            got = v.day(kid(day), SECRET)
            assert first.setdefault(day, got) is got
