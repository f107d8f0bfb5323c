"""Where a replay left its record: the first step that diverged, what the graph asked there,
the recorded step nearest to it and, in words, why they differ. Pure functions over the normal
forms of :mod:`.normalize` (a record's blobs and the request the graph made)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from sinoloc.agent.records.reader import ImageRecord, Record
from sinoloc.agent.records.schema import Step

DivergenceKind = Literal["model", "tool", "verify", "ended_early", "no_record"]
SHORT = 160


class Divergence(BaseModel):
    """The first difference between a replay and its record, for one image."""

    image: str
    step: int = Field(description="the replay's step (0-based, in the image's order)")
    kind: DivergenceKind
    name: str | None = Field(default=None, description="the tool or the model")
    asked: str = Field(description="what the graph asked (or did) at that step")
    nearest: int | None = Field(default=None, description="the recorded step nearest to it")
    recorded: str | None = Field(default=None, description="what that recorded step holds")
    why: str

    def line(self) -> str:
        near = f"; nearest recorded: step {self.nearest} ({self.recorded})" \
            if self.nearest is not None else ""
        return f"{self.image} step {self.step} [{self.kind}{' ' + self.name if self.name else ''}]" \
               f": {self.why}{near}"


def short(value: Any, limit: int = SHORT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_plain(form: dict) -> str:
    content = form.get("content")
    if isinstance(content, list):
        content = " ".join(p.get("text", "[image]") if isinstance(p, dict) else str(p)
                           for p in content)
    calls = form.get("tool_calls")
    return " ".join(f"{content or ''}{' ' + json.dumps(calls, ensure_ascii=False) if calls else ''}"
                    .split())


def where_texts_differ(a: str, b: str, before: int = 40, after: int = 100) -> tuple[str, str]:
    """The two texts around their first difference (``…`` where cut)."""
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, i - before)

    def cut(text: str) -> str:
        piece = text[start:i + after]
        return ("…" if start else "") + piece + ("…" if len(text) > i + after else "")
    return cut(a), cut(b)


def _prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def nearest_model(image: ImageRecord, record: Record, asked: dict, seq: int) -> Step | None:
    """The recorded model step whose conversation shares the longest prefix with ``asked``
    (then the closest in order)."""
    candidates = [s for s in image.steps if s.kind == "model"]
    if not candidates:
        return None
    mine = asked.get("messages", [])

    def score(step: Step):
        theirs = (record.blob(step.req) or {}).get("messages", [])
        return (_prefix(mine, theirs), -abs(step.seq - seq))
    return max(candidates, key=score)


def why_model(asked: dict, forms: dict[str, dict], recorded: dict, record: Record) -> str:
    """Why a model request was not in the record, next to the nearest recorded one."""
    if asked.get("model") != recorded.get("model"):
        return f"another model: recorded {recorded.get('model')}, asked {asked.get('model')}"
    if asked.get("tools") != recorded.get("tools"):
        mine = {t.get("function", t).get("name") for t in forms.get(asked["tools"], [])
                if isinstance(t, dict)} if isinstance(forms.get(asked["tools"]), list) else set()
        theirs = {t.get("function", t).get("name") for t in record.blob(recorded["tools"]) or []
                  if isinstance(t, dict)}
        return (f"the tools offered differ (now offered {sorted(mine - theirs)}, no longer "
                f"{sorted(theirs - mine)})") if mine != theirs else "the tool definitions differ"
    mine, theirs = asked.get("messages", []), recorded.get("messages", [])
    k = _prefix(mine, theirs)
    if k < len(mine) and k < len(theirs):
        a, r = forms.get(mine[k], {}), record.blob(theirs[k]) or {}
        then, now = where_texts_differ(_message_plain(r), _message_plain(a))
        return (f"message {k} differs: recorded {r.get('role')} «{then}», asked "
                f"{a.get('role')} «{now}»")
    if k < len(mine):
        a = forms.get(mine[k], {})
        return f"the conversation goes on past the record: message {k} is new, " \
               f"{a.get('role')} «{short(_message_plain(a))}»"
    return f"the conversation is shorter than recorded ({len(mine)} messages, recorded " \
           f"{len(theirs)})"


def nearest_tool(image: ImageRecord, record: Record, asked: dict, seq: int) -> Step | None:
    candidates = [s for s in image.steps if s.kind == "tool"]
    if not candidates:
        return None

    def score(step: Step):
        theirs = record.blob(step.req) or {}
        return (step.name == asked.get("tool"), theirs.get("args") == asked.get("args"),
                theirs.get("context") == asked.get("context"), -abs(step.seq - seq))
    return max(candidates, key=score)


def why_tool(asked: dict, recorded: dict) -> str:
    if asked.get("tool") != recorded.get("tool"):
        return f"no {asked.get('tool')} call of this kind was recorded for this image"
    if asked.get("image") != recorded.get("image"):
        return "another image (its content hash differs)"
    if asked.get("args") != recorded.get("args"):
        return f"arguments differ: recorded {short(recorded.get('args'))}, asked " \
               f"{short(asked.get('args'))}"
    if asked.get("context") != recorded.get("context"):
        return "what earlier calls found, or the request's settings, differ (the tool's context)"
    return "the recorded call was already served (the graph asked it once more)"


def verdict_form(verdict: dict) -> dict:
    """What a verification verdict is compared by on replay."""
    return {"accepted": bool(verdict.get("accepted")),
            "failed": sorted(c.get("name", "?") for c in verdict.get("checks") or []
                             if not c.get("passed")),
            "feedback": verdict.get("feedback") or ""}


def why_verdict(now: dict, recorded: dict) -> str:
    def say(v: dict) -> str:
        return "accepted" if v["accepted"] else f"sent back ({', '.join(v['failed']) or 'invalid'})"
    if say(now) == say(recorded):
        return f"the verdict's feedback differs: recorded «{short(recorded['feedback'])}», " \
               f"now «{short(now['feedback'])}»"
    extra = f": {short(now['feedback'])}" if now["feedback"] and not now["accepted"] else ""
    return f"verification changed its verdict: recorded {say(recorded)}, now {say(now)}{extra}"


__all__ = ["Divergence", "DivergenceKind", "nearest_model", "nearest_tool", "short",
           "verdict_form", "why_model", "why_tool", "why_verdict"]
