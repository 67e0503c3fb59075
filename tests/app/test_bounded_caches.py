"""The bounded caches: hard entry cap, TTL, eviction, smoothing."""

from __future__ import annotations

import asyncio

from kubarr_app.cache import (
    BoundedTTLCache,
    CacheEvictor,
    NetworkRateCache,
    ServiceEndpointCache,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_size_never_exceeds_its_cap_under_distinct_keys() -> None:
    cache: BoundedTTLCache[int, int] = BoundedTTLCache("t", 60, max_entries=100)
    largest = 0

    for key in range(10_000):
        cache.put(key, key)
        largest = max(largest, len(cache))

    assert largest == 100
    assert len(cache) == 100
    assert cache.get(9_999) == 9_999
    assert cache.get(0) is None
    assert cache.stats.capacity_evictions == 9_900


def test_expired_entries_are_evicted_before_the_oldest_live_ones() -> None:
    clock = FakeClock()
    cache: BoundedTTLCache[str, int] = BoundedTTLCache("t", 10, 3, clock)
    cache.put("old-1", 1)
    cache.put("old-2", 2)
    clock.now += 11
    cache.put("live", 3)

    cache.put("new", 4)

    assert cache.get("live") == 3
    assert cache.get("new") == 4
    assert cache.stats.expired_evictions == 2
    assert cache.stats.capacity_evictions == 0


def test_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    cache: BoundedTTLCache[str, str] = BoundedTTLCache("t", 60, 10, clock)
    cache.put("sonarr", "10.0.0.1:8989")

    clock.now += 59
    assert cache.get("sonarr") == "10.0.0.1:8989"
    clock.now += 2
    assert cache.get("sonarr") is None


def test_a_value_loaded_during_an_invalidation_is_not_cached() -> None:
    cache: BoundedTTLCache[str, str] = BoundedTTLCache("t", 60, 10)
    generation = cache.generation

    cache.clear()

    assert cache.put_if_generation("k", "stale", generation) is False
    assert cache.get("k") is None


async def test_expired_entries_are_gone_after_one_eviction_cycle() -> None:
    clock = FakeClock()
    cache: BoundedTTLCache[int, int] = BoundedTTLCache("t", 5, 1000, clock)
    for key in range(500):
        cache.put(key, key)
    clock.now += 3
    for key in range(500, 600):
        cache.put(key, key)
    clock.now += 3  # the first 500 are now expired, the last 100 are not
    evictor = CacheEvictor([cache], interval=0.01)
    cycles_before = evictor.cycles

    evictor.start()
    for _ in range(500):
        if evictor.cycles > cycles_before:
            break
        await asyncio.sleep(0.01)
    await evictor.stop()

    assert evictor.cycles >= 1
    assert len(cache) == 100
    assert cache.stats.expired_evictions == 500


def test_service_endpoint_cache_resolves_once_per_ttl() -> None:
    clock = FakeClock()
    calls: list[str] = []

    def resolve(name: str) -> str:
        calls.append(name)
        return "10.0.0.5:7878"

    endpoints = ServiceEndpointCache(60, 10, resolve, clock)
    endpoints.endpoint("radarr")
    endpoints.endpoint("radarr")
    clock.now += 61
    endpoints.endpoint("radarr")

    assert calls == ["radarr", "radarr"]


def test_network_rate_is_smoothed_over_a_sliding_window() -> None:
    clock = FakeClock()
    rates = NetworkRateCache(max_age_seconds=300, max_entries=10, clock=clock)

    rates.record("eth0", 0, 0)
    clock.now += 10
    first = rates.record("eth0", 10_000, 5_000)
    assert first.rx_rate == 1000.0
    assert first.tx_rate == 500.0

    clock.now += 10
    second = rates.record("eth0", 50_000, 5_000)
    assert second.rx_rate is not None
    # Raw window rate is 2500 B/s; smoothing moves only part of the way.
    assert 1000.0 < second.rx_rate < 2500.0

    clock.now += 400
    later = rates.record("eth0", 60_000, 5_000)
    assert len(later.samples) == 1  # the old samples left the window


def test_network_rate_cache_is_capped() -> None:
    rates = NetworkRateCache(max_age_seconds=300, max_entries=4)
    for index in range(50):
        rates.record(f"veth{index}", index, index)
    assert len(rates.cache) == 4
