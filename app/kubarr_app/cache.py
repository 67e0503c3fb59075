"""In-process caches whose memory is bounded by a hard entry cap.

Every cache here has a time-to-live and a maximum entry count. When a new
key arrives at the cap, expired entries go first and then the oldest ones; a
background task (:class:`CacheEvictor`) also sweeps expired entries on an
interval, so memory stays bounded even for keys that are never read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Clock = Callable[[], float]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    expired_evictions: int = 0
    capacity_evictions: int = 0

    @property
    def hit_ratio(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class BoundedTTLCache(Generic[K, V]):
    """A thread-safe TTL cache that never holds more than ``max_entries`` keys.

    Entries are kept in insertion order and every entry lives for the same
    ``ttl``, so the oldest entry is also the first to expire: eviction only
    ever looks at the front of the order, which keeps it O(1) per entry.
    """

    def __init__(
        self,
        name: str,
        ttl_seconds: float,
        max_entries: int,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.name = name
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Bumped by :meth:`clear`; see :meth:`put_if_generation`."""
        return self._generation

    def get(self, key: K) -> V | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                return None
            expires_at, value = entry
            if expires_at <= now:
                del self._entries[key]
                self.stats.expired_evictions += 1
                self.stats.misses += 1
                return None
            self.stats.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put_locked(key, value)

    def put_if_generation(self, key: K, value: V, generation: int) -> bool:
        """Store ``value`` only if nothing was invalidated since ``generation``.

        A reader takes the generation before loading from the database; if an
        invalidation happened while it loaded, its value may be stale and is
        dropped instead of being cached.
        """
        with self._lock:
            if generation != self._generation:
                return False
            self._put_locked(key, value)
            return True

    def _put_locked(self, key: K, value: V) -> None:
        now = self._clock()
        self._entries.pop(key, None)
        if len(self._entries) >= self.max_entries:
            self._evict_expired_locked(now)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
            self.stats.capacity_evictions += 1
        self._entries[key] = (now + self.ttl, value)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything and invalidate values being loaded right now."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def evict_expired(self) -> int:
        """Remove every expired entry; return how many went."""
        with self._lock:
            return self._evict_expired_locked(self._clock())

    def _evict_expired_locked(self, now: float) -> int:
        removed = 0
        while self._entries:
            key, (expires_at, _value) = next(iter(self._entries.items()))
            if expires_at > now:
                break
            del self._entries[key]
            removed += 1
        self.stats.expired_evictions += removed
        return removed


class ServiceEndpointCache:
    """Resolved service endpoints of installed apps, kept for a short TTL."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int,
        resolver: Callable[[str], str | None],
        clock: Clock = time.monotonic,
    ) -> None:
        self.cache: BoundedTTLCache[str, str] = BoundedTTLCache(
            "service_endpoint", ttl_seconds, max_entries, clock
        )
        self._resolver = resolver

    def endpoint(self, app_name: str) -> str | None:
        cached = self.cache.get(app_name)
        if cached is not None:
            return cached
        resolved = self._resolver(app_name)
        if resolved is not None:
            self.cache.put(app_name, resolved)
        return resolved


@dataclass
class RateSample:
    at: float
    rx_bytes: int
    tx_bytes: int


@dataclass
class RateSeries:
    """The recent samples of one interface and its smoothed rates."""

    samples: deque[RateSample] = field(default_factory=lambda: deque(maxlen=64))
    rx_rate: float | None = None
    tx_rate: float | None = None


class NetworkRateCache:
    """Byte-counter samples per interface turned into smoothed rates.

    Rates come from the oldest and newest samples inside a sliding window of
    ``max_age`` seconds, then an exponential moving average smooths the jumps
    a single busy second would otherwise show.
    """

    SMOOTHING = 0.3

    def __init__(
        self, max_age_seconds: float, max_entries: int, clock: Clock = time.monotonic
    ) -> None:
        self.cache: BoundedTTLCache[str, RateSeries] = BoundedTTLCache(
            "network_rate", max_age_seconds, max_entries, clock
        )
        self.max_age = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def record(self, key: str, rx_bytes: int, tx_bytes: int) -> RateSeries:
        now = self._clock()
        with self._lock:
            series = self.cache.get(key) or RateSeries()
            series.samples.append(RateSample(now, rx_bytes, tx_bytes))
            while series.samples and series.samples[0].at < now - self.max_age:
                series.samples.popleft()

            first, last = series.samples[0], series.samples[-1]
            span = last.at - first.at
            if span > 0:
                rx = max(last.rx_bytes - first.rx_bytes, 0) / span
                tx = max(last.tx_bytes - first.tx_bytes, 0) / span
                series.rx_rate = self._smooth(series.rx_rate, rx)
                series.tx_rate = self._smooth(series.tx_rate, tx)

            # Re-inserting refreshes the series' age: a live interface stays.
            self.cache.put(key, series)
            return series

    def _smooth(self, previous: float | None, current: float) -> float:
        if previous is None:
            return current
        return previous + self.SMOOTHING * (current - previous)


class Evictable(Protocol):
    def evict_expired(self) -> int: ...


class CacheEvictor:
    """Background task that sweeps expired entries from every cache it holds."""

    def __init__(self, caches: Iterable[Evictable], interval: float) -> None:
        self.caches = list(caches)
        self.interval = interval
        self.cycles = 0
        self._task: asyncio.Task[None] | None = None

    def sweep(self) -> int:
        removed = sum(cache.evict_expired() for cache in self.caches)
        self.cycles += 1
        return removed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                removed = self.sweep()
            except Exception:  # keep sweeping; one bad cycle must not end it
                log.exception("cache eviction cycle failed")
                continue
            if removed:
                log.debug("evicted %d expired cache entries", removed)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="cache-evictor")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
