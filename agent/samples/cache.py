"""The per-image tool cache the trajectories of one image share: an identical tool call (same
tool, same validated arguments, and — for the tools that read what earlier calls found — the
same findings) is made once; a trajectory asking while it runs waits for it. The cache lives
in this process for the image's run (keyed by the plan's id, never in the graph state) and is
dropped when the answer is selected; a resumed run starts it afresh (the results are the
same, only made again).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from pydantic import BaseModel

# tools whose result depends on their arguments, the request and the image only (not on what
# earlier calls found); every other tool is keyed by the findings too, so a new tool is safe
FINDINGS_FREE = frozenset({"cnn_prior", "geocode_poi", "reverse_geocode", "web_search",
                           "lookup_knowledge", "map_view"})
MAX_CACHES = 32  # images in flight in one process (batch workers, a server)


class ToolCache:
    """Results by call key; ``calls`` asked, ``hits`` answered by an earlier identical call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, Future] = {}
        self._asked: set[str] = set()
        self.calls = 0
        self.hits = 0

    def count(self, key: str) -> None:
        """One call asked for ``key`` (a hit when an identical call was asked before): counted
        apart from the computing, so a replay that serves every call from its record counts
        what the recorded run did."""
        with self._lock:
            self.calls += 1
            if key in self._asked:
                self.hits += 1
            self._asked.add(key)

    def result(self, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """The result for ``key`` (computed once) and whether another call computed it."""
        with self._lock:
            future = self._results.get(key)
            owner = future is None
            if owner:
                future = self._results[key] = Future()
        assert future is not None
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # every waiter sees the same failure
                future.set_exception(exc)
        return future.result(), not owner

    def run(self, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """The result for ``key`` (computed once) and whether it came from an earlier call."""
        self.count(key)
        return self.result(key, compute)

    def counts(self) -> dict[str, int]:
        return {"calls": self.calls, "hits": self.hits}


_CACHES: OrderedDict[str, ToolCache] = OrderedDict()
_LOCK = threading.Lock()


def cache_for(cache_id: str) -> ToolCache:
    with _LOCK:
        cache = _CACHES.get(cache_id)
        if cache is None:
            cache = _CACHES[cache_id] = ToolCache()
            while len(_CACHES) > MAX_CACHES:
                _CACHES.popitem(last=False)
        return cache


def drop_cache(cache_id: str) -> dict[str, int]:
    """Forget an image's cache; its counts."""
    with _LOCK:
        cache = _CACHES.pop(cache_id, None)
    return cache.counts() if cache is not None else {"calls": 0, "hits": 0}


def call_key(name: str, args: BaseModel, context) -> str:
    """What makes two calls identical: the tool, its validated arguments and, unless the tool
    is :data:`FINDINGS_FREE`, the OCR spans and evidence it can read."""
    parts: list[Any] = [name, args.model_dump(mode="json")]
    if name not in FINDINGS_FREE:
        parts.append([[s.span_id, s.text] for s in context.ocr_spans])
        parts.append([[e.id, e.kind.value, e.text, e.span_id] for e in context.evidence])
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def shared_cache(state: Mapping[str, Any]) -> ToolCache | None:
    """The cache of the trajectory ``state`` belongs to (None outside a sampled run)."""
    sample = state.get("sample")
    return cache_for(sample["cache"]) if sample else None


def run_shared(cache: ToolCache, name: str, args: BaseModel, context, run: Callable[[], Any],
               exchange: Callable[[Callable[[], Any]], Any] | None = None):
    """``run()`` through the cache; a repeated call's outbound queries are marked as answered
    from the cache (they left the machine once). ``exchange(call)`` (the run record's
    ``tool_exchange``) wraps each trajectory's call, a repeated one too: every call is a step
    of the record, and a replay serves each its own without running the tool or the cache."""
    key = call_key(name, args, context)
    cache.count(key)

    def once():
        output, repeated = cache.result(key, run)
        if repeated and getattr(output, "outbound", None):
            output = output.model_copy(update={"outbound": [
                q.model_copy(update={"cached": True, "seconds": 0.0}) for q in output.outbound]})
        return output

    return once() if exchange is None else exchange(once)
