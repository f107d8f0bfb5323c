"""The three wire dialects a model server speaks (Gemini ``generateContent``, OpenAI-compatible
``chat/completions`` as vLLM returns it, Ollama ``/api/chat``), for :class:`ScriptedServer`.

A test scripts the model in neutral terms (a :class:`Turn`: text and/or tool calls, or a
function of what the request holds) and the dialect renders it as that API's response, streamed
or not; it also reads a request back (:class:`Seen`: system prompt, images, tools offered, tool
results) so that a scripted model can cite the evidence ids the request carries, and a test can
assert what was sent. Error bodies are each API's own shapes (429s, quota, 5xx, auth).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from provider_server import Recorded, Reply


@dataclass
class Turn:
    text: str = ""
    calls: list[tuple[str, dict]] = field(default_factory=list)
    raw_arguments: str | None = None  # malformed: the call's arguments as (broken) text
    tokens: tuple[int, int] = (1200, 60)


@dataclass
class Seen:
    """What one request carried, whatever the dialect."""

    system: str
    images: int
    tools: list[str]
    tool_results: list[tuple[str, str]]  # (tool name, result text) in order
    tool_schemas: dict[str, dict]
    texts: list[str]

    def evidence_ids(self, tool: str) -> list[str]:
        ids: list[str] = []
        for name, text in self.tool_results:
            if name == tool:
                ids += [i for i in re.findall(r"\bE\d+\b", text) if i not in ids]
        return ids

    def results_of(self, tool: str) -> list[str]:
        return [text for name, text in self.tool_results if name == tool]


Script = Turn | Callable[[Seen], Turn]


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return json.dumps(content, ensure_ascii=False)
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content or [])


class Dialect:
    name: str
    path: str  # the endpoint a ScriptedServer should answer
    llm: str  # the --llm value that speaks it

    def read(self, record: Recorded) -> Seen:
        raise NotImplementedError

    def turn(self, turn: Turn, stream: bool) -> Reply:
        raise NotImplementedError

    def reply_for(self, script: Script) -> Callable[[Recorded], Reply]:
        """A server reply computed from the request (streamed when the request asks)."""
        def respond(record: Recorded) -> Reply:
            turn = script(self.read(record)) if callable(script) else script
            return self.turn(turn, bool(record.json().get("stream")))
        return respond

    # errors, each API's own shape
    def rate_limited(self, retry_after: float) -> Reply:
        raise NotImplementedError

    def per_minute_quota(self, delay_s: int) -> Reply:
        return self.rate_limited(delay_s)

    def daily_quota(self) -> Reply:
        raise NotImplementedError

    def server_error(self) -> Reply:
        return Reply(500, json.dumps({"error": {"message": "Internal error", "code": 500}}).encode())


class Gemini(Dialect):
    name, llm = "gemini", "google_genai:gemini-2.5-flash"
    path = r"/models/gemini-2\.5-flash:(generateContent|streamGenerateContent)"

    def read(self, record: Recorded) -> Seen:
        body = record.json()
        system = " ".join(p.get("text", "") for p in
                          (body.get("systemInstruction") or {}).get("parts", []))
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        decls = [f for t in body.get("tools", []) for f in t.get("functionDeclarations", [])]
        return Seen(system=system, images=sum("inlineData" in p for p in parts),
                    tools=[d["name"] for d in decls],
                    tool_schemas={d["name"]: d.get("parameters") or {} for d in decls},
                    tool_results=[(p["functionResponse"]["name"],
                                   json.dumps(p["functionResponse"].get("response"),
                                              ensure_ascii=False))
                                  for p in parts if "functionResponse" in p],
                    texts=[p["text"] for p in parts if "text" in p])

    def turn(self, turn: Turn, stream: bool) -> Reply:
        parts = ([{"text": turn.text}] if turn.text else []) + [
            {"functionCall": {"name": n, "args": a}} for n, a in turn.calls]
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
        if turn.raw_arguments is not None:  # what Gemini returns for a call it cannot parse
            candidate = {"content": {"role": "model"}, "finishReason": "MALFORMED_FUNCTION_CALL",
                         "finishMessage": f"Malformed function call: {turn.raw_arguments}"}
        body = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash",
                "usageMetadata": {"promptTokenCount": turn.tokens[0],
                                  "candidatesTokenCount": turn.tokens[1],
                                  "totalTokenCount": sum(turn.tokens)}}
        if stream:
            return Reply(200, b"", {"content-type": "text/event-stream"},
                         chunks=[b"data: " + json.dumps(body).encode() + b"\r\n\r\n"])
        return Reply(200, json.dumps(body, ensure_ascii=False).encode())

    def _quota(self, quota_id: str, delay_s: int) -> Reply:
        return Reply(429, json.dumps({"error": {
            "code": 429, "status": "RESOURCE_EXHAUSTED", "message": (
                "You exceeded your current quota, please check your plan and billing details. "
                "Quota exceeded for metric: generativelanguage.googleapis.com/"
                "generate_content_free_tier_requests, limit: 10"),
            "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/"
                               "generate_content_free_tier_requests", "quotaId": quota_id}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                 "retryDelay": f"{delay_s}s"}]}}).encode())

    def rate_limited(self, retry_after: float) -> Reply:
        return Reply(429, json.dumps({"error": {
            "code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "Resource has been exhausted (e.g. check quota)."}}).encode(),
            {"retry-after": f"{retry_after:g}"})

    def per_minute_quota(self, delay_s: int) -> Reply:
        return self._quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", delay_s)

    def daily_quota(self) -> Reply:
        return self._quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", 52)

    def server_error(self) -> Reply:
        return Reply(500, json.dumps({"error": {"code": 500, "status": "INTERNAL", "message":
                                                "An internal error has occurred."}}).encode())


class OpenAI(Dialect):
    """An OpenAI-compatible server as vLLM runs it with ``--tool-call-parser hermes``: tool-call
    ids ``chatcmpl-tool-…``, arguments as a JSON string, ``content`` null beside tool calls; a
    call the parser cannot read comes back as the model's raw ``<tool_call>`` text."""

    name, llm, path = "openai", "openai:Qwen/Qwen2.5-VL-7B-Instruct", r"/v1/chat/completions$"

    def read(self, record: Recorded) -> Seen:
        body = record.json()
        messages = body.get("messages", [])
        names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
        parts = [p for m in messages if isinstance(m.get("content"), list) for p in m["content"]]
        fns = [t["function"] for t in body.get("tools", [])]
        return Seen(system=" ".join(_text(m.get("content")) for m in messages
                                    if m["role"] in ("system", "developer")),
                    images=sum(p.get("type") == "image_url" for p in parts),
                    tools=[f["name"] for f in fns],
                    tool_schemas={f["name"]: f.get("parameters") or {} for f in fns},
                    tool_results=[(names.get(m.get("tool_call_id"), "?"), _text(m.get("content")))
                                  for m in messages if m["role"] == "tool"],
                    texts=[_text(m.get("content")) for m in messages if m["role"] == "user"])

    def _calls(self, turn: Turn) -> list[dict]:
        return [{"id": f"chatcmpl-tool-{uuid.uuid4().hex[:16]}", "type": "function",
                 "function": {"name": n, "arguments": turn.raw_arguments
                              if turn.raw_arguments is not None
                              else json.dumps(a, ensure_ascii=False)}}
                for n, a in turn.calls]

    def turn(self, turn: Turn, stream: bool) -> Reply:
        calls = self._calls(turn)
        usage = {"prompt_tokens": turn.tokens[0], "completion_tokens": turn.tokens[1],
                 "total_tokens": sum(turn.tokens)}
        finish = "tool_calls" if calls else "stop"
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()),
                "model": "Qwen/Qwen2.5-VL-7B-Instruct"}
        if not stream:
            message = {"role": "assistant", "content": turn.text or None, "tool_calls": calls,
                       "reasoning_content": None}
            return Reply(200, json.dumps({**base, "object": "chat.completion", "choices": [{
                "index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage}, ensure_ascii=False).encode())
        chunk = {**base, "object": "chat.completion.chunk"}

        def event(delta: dict, finish_reason=None, **extra) -> bytes:
            data = {**chunk, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                          "finish_reason": finish_reason}], **extra}
            return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

        events = [event({"role": "assistant", "content": ""})]
        if turn.text:
            events += [event({"content": turn.text[:10]}), event({"content": turn.text[10:]})]
        for i, c in enumerate(calls):  # vLLM streams the name first, then the arguments
            args = c["function"]["arguments"]
            events.append(event({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                                 "function": {"name": c["function"]["name"]}}]}))
            events += [event({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                       for piece in (args[:len(args) // 2], args[len(args) // 2:])]
        events.append(event({}, finish))
        events.append(b"data: " + json.dumps({**chunk, "choices": [], "usage": usage}).encode()
                      + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        return Reply(200, b"", {"content-type": "text/event-stream"}, chunks=events)

    def rate_limited(self, retry_after: float) -> Reply:
        return Reply(429, json.dumps({"error": {
            "message": "Rate limit reached for requests per min (RPM)", "type": "requests",
            "code": "rate_limit_exceeded"}}).encode(), {"retry-after": f"{retry_after:g}"})

    def per_minute_quota(self, delay_s: int) -> Reply:
        return Reply(429, json.dumps({"error": {
            "message": f"Rate limit reached on tokens per min (TPM). Please try again in "
                       f"{delay_s}s.", "type": "tokens", "code": "rate_limit_exceeded"}}).encode())

    def daily_quota(self) -> Reply:
        return Reply(429, json.dumps({"error": {
            "message": "You exceeded your current quota, please check your plan and billing "
                       "details.", "type": "insufficient_quota",
            "code": "insufficient_quota"}}).encode())


class Ollama(Dialect):
    """Ollama's ``/api/chat``: NDJSON chunks; tool-call arguments as objects; a call its parser
    cannot read is left in ``content`` as the model's raw ``<tool_call>`` text."""

    name, llm, path = "ollama", "ollama:qwen2.5vl:7b", r"/api/chat$"

    def read(self, record: Recorded) -> Seen:
        body = record.json()
        messages = body.get("messages", [])
        fns = [t["function"] for t in body.get("tools", [])]
        results, pending = [], []  # the ollama client sends no call ids: results go in order
        for m in messages:
            if m["role"] == "assistant":
                pending = [c["function"]["name"] for c in m.get("tool_calls") or []]
            elif m["role"] == "tool":
                results.append((m.get("tool_name") or (pending.pop(0) if pending else "?"),
                                m.get("content", "")))
        return Seen(system=" ".join(m.get("content", "") for m in messages
                                    if m["role"] == "system"),
                    images=sum(len(m.get("images") or []) for m in messages),
                    tools=[f["name"] for f in fns],
                    tool_schemas={f["name"]: f.get("parameters") or {} for f in fns},
                    tool_results=results,
                    texts=[m.get("content", "") for m in messages if m["role"] == "user"])

    def turn(self, turn: Turn, stream: bool) -> Reply:
        stamp = "2026-11-30T08:00:00.000000Z"
        content = turn.text
        calls = [{"function": {"name": n, "arguments": a}} for n, a in turn.calls]
        if turn.raw_arguments is not None:
            content = "".join(f'<tool_call>\n{{"name": "{n}", "arguments": {turn.raw_arguments}'
                              f'\n</tool_call>' for n, _ in turn.calls)
            calls = []
        message = {"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})}
        last = {"model": "qwen2.5vl:7b", "created_at": stamp, "done": True, "done_reason": "stop",
                "total_duration": 1, "prompt_eval_count": turn.tokens[0],
                "eval_count": turn.tokens[1]}
        if not stream:
            return Reply(200, json.dumps({**last, "message": message}).encode())
        chunks = [json.dumps({"model": "qwen2.5vl:7b", "created_at": stamp, "message": message,
                              "done": False}, ensure_ascii=False).encode() + b"\n",
                  json.dumps({**last, "message": {"role": "assistant", "content": ""}}).encode()
                  + b"\n"]
        return Reply(200, b"", {"content-type": "application/x-ndjson"}, chunks=chunks)

    def rate_limited(self, retry_after: float) -> Reply:
        return Reply(429, json.dumps({"error": "too many requests"}).encode(),
                     {"retry-after": f"{retry_after:g}"})

    def per_minute_quota(self, delay_s: int) -> Reply:  # Ollama (cloud) says it in words
        return Reply(429, json.dumps({"error": f"rate limit: too many requests per minute, "
                                               f"retry in {delay_s}s"}).encode())

    def daily_quota(self) -> Reply:
        return Reply(429, json.dumps({"error": "you have reached your daily usage limit"}).encode())

    def server_error(self) -> Reply:
        return Reply(500, json.dumps({"error": "llama runner process has terminated"}).encode())


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Gemini(), OpenAI(), Ollama())}


def scripted_model_env(monkeypatch) -> None:
    """The environment a CLI run against a scripted model server needs: placeholder provider
    keys (the SDKs insist on one) and none of the user's model, prior or web-search settings."""
    for name in ("GOOGLE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, "test-key-not-real")
    for name in ("SINOLOC_LLM", "SINOLOC_LLM_BASE_URL", "SINOLOC_PRIOR_CHECKPOINT",
                 "SINOLOC_WEB_SEARCH"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------ a scripted geolocator
ADDRESS = "杭州市西湖区文三路138号 电话0571-88886666"
RIGHT = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741, "lon": 120.1305}
WRONG = {"province": "浙江省", "city": "杭州市", "district": "上城区", "lat": 30.2421, "lon": 120.1694}


def geolocator(wrong_first: bool = False) -> Callable[[Seen], Turn]:
    """Reads the clues, then submits citing the evidence ids the request carries; with
    ``wrong_first`` the first submission names the wrong district (verify sends it back)."""
    def decide(seen: Seen) -> Turn:
        ids = seen.evidence_ids("lookup_clues")
        if not seen.results_of("lookup_clues") or not ids:
            return Turn(calls=[("lookup_clues", {"text": ADDRESS})])
        answer = WRONG if wrong_first and not seen.results_of("submit_answer") else RIGHT
        return Turn(calls=[("submit_answer", {**answer, "confidence": 0.9,
                                              "province_evidence": ids, "city_evidence": ids,
                                              "district_evidence": ids,
                                              "reasoning": "the sign's address and phone"})])
    return decide


REFUSAL = Turn(text="I'm sorry, but I can't help identify where this photo was taken.")
MALFORMED = Turn(calls=[("lookup_clues", {})], raw_arguments='{"text": "杭州市西湖区文三路')
