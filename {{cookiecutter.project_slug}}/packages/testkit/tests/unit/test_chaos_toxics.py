"""The fault vocabulary and the backend decision: pure functions, no sockets."""

from __future__ import annotations

import random
import re

import pytest

from testkit.chaos.backend import choose_backend
from testkit.chaos.toxics import (
    KINDS,
    applies,
    bandwidth_pieces,
    latency_delay,
    limit_data_allowance,
    make_toxic,
    slice_sizes,
)
from testkit.chaos.toxiproxy import listen_address


def test_every_toxiproxy_kind_is_known_with_its_attribute_names() -> None:
    assert {name: list(kind.attributes) for name, kind in KINDS.items()} == {
        "latency": ["latency", "jitter"],
        "bandwidth": ["rate"],
        "slow_close": ["delay"],
        "timeout": ["timeout"],
        "reset_peer": ["timeout"],
        "slicer": ["average_size", "size_variation", "delay"],
        "limit_data": ["bytes"],
    }


def test_a_toxic_gets_toxiproxys_default_name_and_zero_for_unset_attributes() -> None:
    toxic = make_toxic("latency", latency=100)

    assert toxic.name == "latency_downstream"
    assert toxic.stream == "downstream"
    assert toxic.toxicity == 1.0
    assert dict(toxic.attributes) == {"latency": 100, "jitter": 0}


def test_a_toxic_serialises_to_toxiproxys_request_body() -> None:
    toxic = make_toxic("slicer", stream="upstream", toxicity=0.5, average_size=10, delay=5)

    assert toxic.to_json() == {
        "name": "slicer_upstream",
        "type": "slicer",
        "stream": "upstream",
        "toxicity": 0.5,
        "attributes": {"average_size": 10, "size_variation": 0, "delay": 5},
    }


@pytest.mark.parametrize(
    ("kind", "arguments", "message"),
    [
        (
            "latenzy",
            {},
            "unknown toxic kind 'latenzy'; allowed: latency, bandwidth, slow_close, timeout, "
            "reset_peer, slicer, limit_data",
        ),
        (
            "latency",
            {"stream": "sideways"},
            "toxic stream must be one of upstream, downstream, got 'sideways'",
        ),
        ("latency", {"toxicity": 1.5}, "toxicity must be from 0 to 1, got 1.5"),
        ("latency", {"toxicity": "half"}, "toxicity must be a number from 0 to 1, got 'half'"),
        ("latency", {"delay": 5}, "latency has no attribute 'delay'; allowed: latency, jitter"),
        ("timeout", {"timeout": -1}, "timeout timeout must be a whole number >= 0 (ms), got -1"),
        ("bandwidth", {"rate": 1.5}, "bandwidth rate must be a whole number >= 0 (KB/s), got 1.5"),
        ("bandwidth", {}, "bandwidth rate must be >= 1 KB/s (0 would pass no data at all)"),
        (
            "latency",
            {"latency": 10, "jitter": 20},
            "latency jitter (20 ms) must not exceed latency (10 ms): the delay would go negative",
        ),
        ("slicer", {}, "slicer average_size must be >= 1 byte"),
        (
            "slicer",
            {"average_size": 8, "size_variation": 8},
            "slicer size_variation (8) must be less than average_size (8)",
        ),
        ("limit_data", {"name": ""}, "toxic name must be non-empty and without '/', got ''"),
    ],
)
def test_a_bad_toxic_is_a_one_line_error_naming_the_input_and_the_allowed_values(
    kind: str, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        make_toxic(kind, **arguments)  # type: ignore[arg-type]

    assert str(raised.value) == message


def test_latency_stays_within_latency_plus_or_minus_jitter() -> None:
    toxic = make_toxic("latency", latency=100, jitter=30)
    rng = random.Random(1)

    delays = [latency_delay(toxic, rng) for _ in range(500)]

    assert min(delays) >= 0.070
    assert max(delays) <= 0.130
    assert len(set(delays)) > 10  # jitter varies the delay, it is not a constant offset


def test_bandwidth_passes_the_bytes_in_100ms_pieces_at_the_rate() -> None:
    pieces = bandwidth_pieces(25_000, rate_kb_s=100)  # 10 KB per 100 ms tick

    assert [size for size, _ in pieces] == [10_000, 10_000, 5_000]
    assert sum(wait for _, wait in pieces) == pytest.approx(0.25)


@pytest.mark.parametrize("length", [0, 1, 7, 100, 4096, 65_536])
def test_slicer_pieces_add_up_to_the_chunk_and_stay_near_the_average(length: int) -> None:
    sizes = slice_sizes(length, average=16, variation=8, rng=random.Random(length))

    assert sum(sizes) == length
    assert all(size > 0 for size in sizes)
    assert all(size <= 16 + 8 for size in sizes)
    if length > 64:
        assert len(sizes) >= length // (16 + 8)


def test_limit_data_truncates_the_chunk_that_reaches_the_limit_then_closes() -> None:
    assert limit_data_allowance(10, transmitted=0, chunk_length=4) == (4, False)
    assert limit_data_allowance(10, transmitted=8, chunk_length=4) == (2, True)
    assert limit_data_allowance(10, transmitted=10, chunk_length=4) == (0, True)
    assert limit_data_allowance(0, transmitted=0, chunk_length=4) == (0, True)


def test_toxicity_zero_never_applies_and_one_always_does() -> None:
    rng = random.Random(7)

    assert not any(applies(0.0, rng) for _ in range(1000))
    assert all(applies(1.0, rng) for _ in range(1000))
    share = sum(applies(0.3, rng) for _ in range(10_000)) / 10_000
    assert 0.25 < share < 0.35


def test_without_toxiproxy_url_the_in_process_proxy_is_chosen_and_says_why() -> None:
    choice = choose_backend(None)

    assert choice.backend == "in-process"
    assert choice.describe() == "in-process(TOXIPROXY_URL not set)"


def test_with_toxiproxy_url_toxiproxy_is_chosen_with_the_url_masked() -> None:
    choice = choose_backend("http://user:secret@toxiproxy:8474")

    assert choice.backend == "toxiproxy"
    assert choice.toxiproxy_url == "http://user:secret@toxiproxy:8474"
    assert choice.describe() == "toxiproxy(http://user:***@toxiproxy:8474, TOXIPROXY_URL set)"


@pytest.mark.parametrize("url", ["127.0.0.1:8474", "tcp://127.0.0.1:8474", "http://"])
def test_a_toxiproxy_url_that_is_not_http_is_rejected_with_an_example(url: str) -> None:
    with pytest.raises(ValueError, match=r"^TOXIPROXY_URL must be Toxiproxy's API as an http"):
        choose_backend(url)


def test_the_backend_choice_names_the_setting_as_the_user_gave_it() -> None:
    with pytest.raises(ValueError, match=r"^--testkit-toxiproxy-url must be Toxiproxy's API"):
        choose_backend("localhost:8474", source="--testkit-toxiproxy-url")

    choice = choose_backend("http://127.0.0.1:8474", source="ini testkit_toxiproxy_url")
    assert choice.describe() == "toxiproxy(http://127.0.0.1:8474, ini testkit_toxiproxy_url set)"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8474", ("127.0.0.1:0", "127.0.0.1")),
        ("http://localhost:8474", ("127.0.0.1:0", "127.0.0.1")),
        ("http://[::1]:8474", ("127.0.0.1:0", "127.0.0.1")),
        ("http://toxiproxy:8474", ("0.0.0.0:0", "toxiproxy")),
        ("http://10.1.2.3:8474", ("0.0.0.0:0", "10.1.2.3")),
    ],
)
def test_toxiproxy_listens_on_loopback_only_when_its_api_is_on_loopback(
    url: str, expected: tuple[str, str]
) -> None:
    assert listen_address(url) == expected
