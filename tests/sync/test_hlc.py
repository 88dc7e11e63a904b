"""Hybrid logical clock: encoding order, tick, receive and clamp."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.hlc import InvalidStamp, Stamp, clamp, decode, receive, server_stamp, tick

YEAR_MS = 365 * 24 * 3600 * 1000
stamps = st.builds(
    Stamp,
    st.integers(0, 10**15 - 1),
    st.integers(0, 99_999),
    st.sampled_from(["a", "b", "phone-7", "server"]),
)


def test_encoded_stamp_decodes_to_itself() -> None:
    stamp = Stamp(1_767_225_600_000, 3, "phone-7")
    assert decode(stamp.encode()) == stamp


@given(stamps, stamps)
def test_encoded_order_is_stamp_order(a: Stamp, b: Stamp) -> None:
    assert (a.encode() < b.encode()) == (a < b)


@pytest.mark.parametrize(
    "text", ["", "12-00001-a", "001767225600000-00001-", "x" * 15 + "-00001-a"]
)
def test_malformed_stamp_is_refused(text: str) -> None:
    with pytest.raises(InvalidStamp):
        decode(text)


def test_tick_moves_to_physical_time_when_it_is_ahead() -> None:
    assert tick(Stamp(100, 5, "a"), 200) == Stamp(200, 0, "a")


def test_tick_counts_up_when_the_physical_clock_stalls() -> None:
    assert tick(Stamp(100, 5, "a"), 90) == Stamp(100, 6, "a")


def test_full_counter_spills_into_the_wall_clock() -> None:
    assert tick(Stamp(100, 99_999, "a"), 90) == Stamp(101, 0, "a")


@given(stamps, stamps, st.integers(0, 10**15 - 1))
def test_receive_is_after_both_clocks(local: Stamp, remote: Stamp, now: int) -> None:
    result = receive(local, remote, now)
    assert (result.wall_ms, result.counter) > (local.wall_ms, local.counter)
    assert (result.wall_ms, result.counter) > (remote.wall_ms, remote.counter)
    assert result.node == local.node


def test_receive_takes_the_physical_clock_when_it_leads() -> None:
    assert receive(Stamp(100, 3, "s"), Stamp(120, 7, "p"), 500) == Stamp(500, 0, "s")


def test_receive_continues_the_remote_counter_when_remote_leads() -> None:
    assert receive(Stamp(100, 3, "s"), Stamp(120, 7, "p"), 110) == Stamp(120, 8, "s")


def test_stamp_a_year_ahead_is_clamped_to_the_server_clock_and_reported() -> None:
    now = 1_767_225_600_000
    stamp, clamped = clamp(Stamp(now + YEAR_MS, 4, "phone"), now, 300_000)
    assert clamped
    assert stamp == Stamp(now, 0, "phone")


def test_stamp_within_the_allowed_skew_is_kept() -> None:
    now = 1_767_225_600_000
    original = Stamp(now + 1_000, 4, "phone")
    assert clamp(original, now, 300_000) == (original, False)


def test_stamp_a_year_behind_is_kept() -> None:
    now = 1_767_225_600_000
    original = Stamp(now - YEAR_MS, 0, "phone")
    assert clamp(original, now, 300_000) == (original, False)


def test_server_stamp_uses_the_server_node() -> None:
    assert server_stamp(42).encode() == "000000000000042-00000-server"
