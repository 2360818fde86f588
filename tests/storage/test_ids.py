from datetime import UTC, datetime

from storage.ids import IdGenerator, id_for_time, time_of_id


def test_ids_increase_and_sort_as_strings_of_equal_length():
    generate = IdGenerator()
    ids = [generate() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    strings = [str(value) for value in ids]
    assert strings == sorted(strings)


def test_id_carries_its_creation_time():
    moment = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    generate = IdGenerator(clock=moment.timestamp)
    value = generate()
    assert time_of_id(value) == moment
    assert id_for_time(moment) <= value < id_for_time(moment) + (1 << 16)


def test_a_clock_stepping_back_never_repeats_an_id():
    times = iter([1000.0, 1000.0, 999.0, 999.0, 1000.0])
    generate = IdGenerator(clock=lambda: next(times))
    ids = [generate() for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
