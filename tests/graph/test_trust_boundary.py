"""The served graph's trust boundary: the graph ``langgraph.json`` serves, loaded by file path as
``langgraph dev`` loads it, invoked with a client's input and ``configurable``. Clients may not
run code or read files on the server through a model spec, may not name host files, and cannot
make the server store what is not an image; every refusal is one line that says nothing about the
host. In-process callers keep the permissive API (checked at the end)."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from imaging import street_scene
from langgraph.checkpoint.memory import InMemorySaver
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
HOME = str(Path.home())
UPLOADS = "srv-upload-store"  # a name no message may contain


def _png(size=(320, 240), seed=1) -> bytes:
    buffer = io.BytesIO()
    street_scene(*size, seed=seed).save(buffer, format="PNG")
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def served(monkeypatch, tmp_path, regions):
    """A function env → the served graph, loaded from langgraph.json's file path afresh."""
    monkeypatch.setenv("SINOLOC_CACHE_DIR", str(tmp_path / "cache"))  # regions: loaded already
    monkeypatch.delenv("SINOLOC_LLM", raising=False)

    def load(**env: str):
        for key in ("SINOLOC_IMAGES_ROOT", "SINOLOC_UPLOAD_DIR", "SINOLOC_SERVE_PROVIDERS",
                    "SINOLOC_UPLOAD_STORE_MB", "SINOLOC_UPLOAD_MAX_AGE_H"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        config = json.loads((ROOT / "langgraph.json").read_text())
        path, _, attr = config["graphs"]["sinoloc"].partition(":")
        spec = importlib.util.spec_from_file_location("served_graph_under_test", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, attr)

    return load


def _refusal(graph, request: dict, configurable: dict | None = None, timeout: float = 20.0):
    """The exception the served graph raises for this client input (None if it answered);
    run in a thread so that a hang fails the test instead of blocking it."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = graph.invoke({"request": request},
                                            {"configurable": configurable or {}})
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        pytest.fail(f"the served graph hung for {timeout:.0f} s on {str(request)[:80]}")
    outcome["seconds"] = time.perf_counter() - start
    return outcome.get("error"), outcome


def _assert_says_nothing_about_the_host(message: str, *paths: Path) -> None:
    assert HOME not in message and "/tmp" not in message
    for path in paths:
        assert str(path) not in message and path.name not in message


# ------------------------------------------------------------------ model specs
def test_client_model_specs_that_run_code_or_read_files_are_refused(served, tmp_path,
                                                                    monkeypatch):
    marker = tmp_path / "factory_was_called"
    (tmp_path / "client_factory_mod.py").write_text(
        "from pathlib import Path\n"
        f"def factory():\n    Path({str(marker)!r}).write_text('called')\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = served()
    upload = _b64(_png())
    for spec in ("python:client_factory_mod:factory", "python:os:getpid", "PYTHON:os:abort",
                 "local:/etc", "local:" + str(tmp_path), "huggingface:gpt2"):
        error, _ = _refusal(graph, {"image_path": upload}, {"llm": spec})
        assert error is not None, spec
        assert "not available to clients" in str(error), (spec, str(error))
        _assert_says_nothing_about_the_host(str(error), tmp_path)
    assert not marker.exists()
    assert "client_factory_mod" not in sys.modules


def test_client_may_pick_none_and_an_allowed_provider_spec_parses():
    from sinoloc.agent.llm.spec import LlmSpecError, parse_client_spec

    allowed = frozenset({"openai", "python", "local"})  # operator-only providers never pass
    assert parse_client_spec("none", allowed).is_none
    spec = parse_client_spec("openai:qwen2.5-vl-7b", allowed)
    assert (spec.provider, spec.model) == ("openai", "qwen2.5-vl-7b")
    for bad in ("python:os:getpid", "local:/models/x", "openai:../../etc", "openai:a b",
                "ollama:qwen2.5vl:7b", 42):
        with pytest.raises(LlmSpecError):
            parse_client_spec(bad, allowed)


def test_clients_pick_only_the_models_the_operator_allowed(tmp_path):
    """The operator's own model keeps its address (None: the graph's default policy), listed
    models are built as the operator wrote them, any other model of the same provider is refused
    (it would reach the provider's default address with the operator's key)."""
    from sinoloc.agent.boundary import ServeBoundary
    from sinoloc.agent.llm.spec import LlmSpecError

    boundary = ServeBoundary(upload_dir=tmp_path, operator_model="openai:operator-model",
                             models=frozenset({"ollama:qwen2.5vl"}))
    assert boundary.policy("openai:operator-model") is None
    assert boundary.policy("none").name == "deterministic"
    assert boundary.policy("ollama:qwen2.5vl").name == "ollama:qwen2.5vl"
    for spec in ("openai:gpt-4o", "openai:operator-model-2", "ollama:llava", "google_genai:x"):
        with pytest.raises(LlmSpecError, match="not available to clients"):
            boundary.policy(spec)
    assert ServeBoundary.from_env({"SINOLOC_SERVE_MODELS": "ollama:a, none,openai:b"}).models \
        == frozenset({"ollama:a", "openai:b"})


def test_the_operators_budget_ceilings_come_from_the_environment_without_a_command_line(tmp_path):
    """Under ``langgraph dev`` no command line sets the ceilings: the SINOLOC_SERVE_MAX_* variables
    do, and a client's higher budgets are lowered to them (a lower one is kept)."""
    from sinoloc.agent.boundary import ServeBoundary
    from sinoloc.agent.settings import LocateSettings

    env = {"SINOLOC_SERVE_MAX_MODEL_CALLS": "4", "SINOLOC_SERVE_MAX_TOOL_CALLS": " 9 ",
           "SINOLOC_SERVE_MAX_VERIFY_ROUNDS": "1", "SINOLOC_SERVE_MAX_SECONDS": "30.5",
           "SINOLOC_SERVE_MAX_SAMPLES": "2", "SINOLOC_UPLOAD_DIR": str(tmp_path)}
    boundary = ServeBoundary.from_env(env)
    assert (boundary.max_model_calls, boundary.max_tool_calls, boundary.max_verify_rounds,
            boundary.max_seconds, boundary.max_samples) == (4, 9, 1, 30.5, 2)
    asked = {"max_model_calls": 50, "max_tool_calls": 3, "max_verify_rounds": 3,
             "max_seconds": 600.0, "samples": 5}
    assert boundary.limit(asked) == {"max_model_calls": 4, "max_tool_calls": 3,
                                     "max_verify_rounds": 1, "max_seconds": 30.5, "samples": 2}
    unset = ServeBoundary.from_env({"SINOLOC_UPLOAD_DIR": str(tmp_path)})
    assert unset.max_model_calls == LocateSettings.model_fields["max_model_calls"].default
    with pytest.raises(ValueError):
        ServeBoundary.from_env(env | {"SINOLOC_SERVE_MAX_MODEL_CALLS": "0"})
    with pytest.raises(ValueError, match=r"^SINOLOC_SERVE_MAX_TOOL_CALLS='lots': not a whole number$"):
        ServeBoundary.from_env(env | {"SINOLOC_SERVE_MAX_TOOL_CALLS": "lots"})


def test_the_server_operator_may_still_configure_python_models(served, monkeypatch):
    """SINOLOC_LLM is the operator's: python: / local: are allowed there (read at start)."""
    monkeypatch.setenv("SINOLOC_LLM", "python:no_such_module_for_the_operator:factory")
    with pytest.raises(ValueError, match="no_such_module_for_the_operator"):
        served()  # the operator's spec is loaded (and fails loudly) when the server starts


# ------------------------------------------------------------------ host paths
def test_every_refused_path_gets_one_message_that_reveals_nothing(served, tmp_path):
    root = tmp_path / "served-images"
    root.mkdir()
    secret = tmp_path / "private" / "bank.png"
    secret.parent.mkdir()
    secret.write_bytes(_png(seed=7))
    (root / "link.png").symlink_to(secret)
    os.mkfifo(root / "pipe.png")
    (root / "folder.png").mkdir()
    graph = served(SINOLOC_IMAGES_ROOT=str(root), SINOLOC_UPLOAD_DIR=str(tmp_path / UPLOADS))
    requests = [str(secret), str(tmp_path / "private" / "missing.png"), "/etc/passwd", "/etc",
                "../private/bank.png", "link.png", "pipe.png", "folder.png", "/dev/zero",
                "missing.png", str(root / "pipe.png")]
    messages = set()
    try:
        for name in requests:
            error, outcome = _refusal(graph, {"image_path": name})
            assert error is not None, f"{name} was read: {outcome.get('value')}"
            assert outcome["seconds"] < 5, name
            messages.add(str(error))
    finally:
        _unblock(root / "pipe.png")
    assert len(messages) == 1, messages
    message = messages.pop()
    _assert_says_nothing_about_the_host(message, root, secret)
    assert "\n" not in message


def test_without_an_images_root_no_path_is_accepted(served, tmp_path):
    image = tmp_path / "street.png"
    image.write_bytes(_png())
    graph = served()
    existing, _ = _refusal(graph, {"image_path": str(image)})
    missing, _ = _refusal(graph, {"image_path": str(tmp_path / "nope.png")})
    assert existing is not None and str(existing) == str(missing)


def test_an_image_in_the_images_root_is_located(served, tmp_path):
    root = tmp_path / "served-images"
    (root / "day1").mkdir(parents=True)
    (root / "day1" / "street.png").write_bytes(_png())
    graph = served(SINOLOC_IMAGES_ROOT=str(root))
    out = graph.invoke({"request": {"image_path": "day1/street.png"}})
    assert out["prediction"]["province"]


def _unblock(fifo: Path) -> None:
    """Release a reader stuck on ``fifo`` (only today's bug would be stuck there)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # no reader waiting
    os.close(fd)


# ------------------------------------------------------------------ uploads
def test_a_non_image_upload_is_refused_and_nothing_is_stored(served, tmp_path):
    uploads = tmp_path / UPLOADS
    graph = served(SINOLOC_UPLOAD_DIR=str(uploads))
    for body in (_b64(b"#!/bin/sh\necho this is a script, not a picture\n" * 4),
                 "data:image/png;base64," + _b64(b"PK\x03\x04" + b"\x00" * 200),
                 _b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 300)):  # PNG magic, no valid header
        error, _ = _refusal(graph, {"image_path": body})
        assert error is not None
        assert str(error).startswith("uploaded image: ")
        _assert_says_nothing_about_the_host(str(error), uploads)
    stored = [p for d in (uploads, tmp_path / "cache") if d.exists() for p in d.rglob("*")
              if p.is_file()]
    assert stored == []


def test_an_oversized_upload_is_refused_before_decoding(served, tmp_path):
    graph = served(SINOLOC_UPLOAD_DIR=str(tmp_path / UPLOADS), SINOLOC_UPLOAD_MAX_MB="0.1")
    error, _ = _refusal(graph, {"image_path": _b64(b"\xff\xd8\xff" + b"\x00" * 200_000)})
    assert error is not None and "over the" in str(error)
    assert not (tmp_path / UPLOADS).exists()


def test_the_upload_store_is_bounded_in_size_and_age(served, tmp_path):
    uploads = tmp_path / UPLOADS
    images = [_png((320, 240), seed) for seed in range(4)]
    limit_mb = (2.5 * max(len(i) for i in images)) / (1024 * 1024)
    graph = served(SINOLOC_UPLOAD_DIR=str(uploads), SINOLOC_UPLOAD_STORE_MB=f"{limit_mb:.6f}")
    for data in images:
        graph.invoke({"request": {"image_path": _b64(data)}})
        time.sleep(0.02)  # distinct modification times
    kept = sorted(uploads.iterdir(), key=lambda p: p.stat().st_mtime)
    assert sum(p.stat().st_size for p in kept) <= limit_mb * 1024 * 1024
    assert 1 <= len(kept) <= 2 and kept[-1].read_bytes() == images[-1]  # the oldest went first

    from sinoloc.tools.upload_store import UploadStore

    old = kept[-1]
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    UploadStore(uploads, 10**9, max_age_s=86400, max_files=1000).add(_png(seed=9), "PNG")
    assert not old.exists()  # past the age: gone when the store is next used


def test_operator_settings_are_refused_from_clients(served, tmp_path):
    graph = served(SINOLOC_UPLOAD_DIR=str(tmp_path / UPLOADS))
    upload = _b64(_png())
    for request, configurable in (({"image_path": upload, "prior": "/etc"}, {}),
                                  ({"image_path": upload}, {"prior": str(tmp_path)})):
        error, _ = _refusal(graph, request, configurable)
        assert error is not None and "prior" in str(error)
        _assert_says_nothing_about_the_host(str(error), tmp_path)


def test_forged_thread_state_cannot_point_the_tools_at_a_host_file(served, tmp_path):
    """A client can write thread state through the server's API: the policy node re-checks the
    image the state names before any tool runs."""
    graph = served(SINOLOC_UPLOAD_DIR=str(tmp_path / UPLOADS)).copy(
        update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": "t1"}}
    graph.invoke({"request": {"image_path": _b64(_png())}}, config)
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png(seed=3))
    forged = {**graph.get_state(config).values["request"], "image_path": str(secret)}
    graph.update_state(config, {"request": forged, "ingested_request": forged})
    with pytest.raises(ValueError, match="not an image this server can read") as caught:
        graph.invoke({"question": "what does the sign say?"}, config)
    _assert_says_nothing_about_the_host(str(caught.value), secret)


# ------------------------------------------------------------------ in-process stays permissive
def test_in_process_graph_keeps_paths_and_python_specs(tmp_path, monkeypatch, regions):
    from sinoloc import build_graph

    monkeypatch.setenv("SINOLOC_CACHE_DIR", str(tmp_path / "cache"))
    image = tmp_path / "street.png"
    Image.open(io.BytesIO(_png())).save(image)
    out = build_graph().invoke({"request": {"image_path": str(image)}},
                               {"configurable": {"llm": "none"}})
    assert out["prediction"]["province"]


def test_the_operators_prior_and_offline_rule_hold_whatever_a_client_sends(tmp_path):
    """``sinoloc serve --prior DIR --offline`` passes its choices in the boundary (not through
    the environment): every admitted request carries them, a client's ``offline: false`` too."""
    from PIL import Image

    from sinoloc.agent.boundary import ServeBoundary

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    upload = "data:;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    prior = str(tmp_path / "prior")
    operator = ServeBoundary(upload_dir=tmp_path / "uploads", prior=prior, offline=True)
    request, _ = operator.admit({"image_path": upload, "offline": False}, {})
    assert request.prior == prior and request.offline
    open_server = ServeBoundary(upload_dir=tmp_path / "uploads")
    request, _ = open_server.admit({"image_path": upload, "offline": False}, {})
    assert request.prior is None and not request.offline


def test_an_upload_is_decoded_and_stored_once_per_request(tmp_path, monkeypatch):
    """The web app checks a request before its run (the image's header only: no pixel decoded,
    nothing stored), and the run's ingest admits it: one decode and one stored file a request."""
    from PIL import Image

    from sinoloc.agent import boundary as boundary_module
    from sinoloc.agent.boundary import ServeBoundary
    from sinoloc.tools.upload_store import UploadStore

    decoded, stored = [], []
    real_load, real_add = boundary_module.load_image, UploadStore.add
    monkeypatch.setattr(boundary_module, "load_image",
                        lambda data, **kw: decoded.append(1) or real_load(data, **kw))
    monkeypatch.setattr(UploadStore, "add",
                        lambda self, data, kind: stored.append(1) or real_add(self, data, kind))
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    upload = "data:;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    gate = ServeBoundary(upload_dir=tmp_path / "uploads")
    gate.precheck({"image_path": upload}, {})  # the web app's admission
    assert decoded == [] and stored == [] and not any((tmp_path / "uploads").glob("*"))
    request, _ = gate.admit({"image_path": upload}, {})  # the run's ingest
    assert len(decoded) == 1 and len(stored) == 1 and Path(request.image_path).is_file()
