"""The graph as ``langgraph dev`` serves it from langgraph.json (the LangGraph API on 127.0.0.1),
attacked through the API itself: a client that writes thread state (``POST /threads/T/state``
with ``as_node``) and resumes the thread must not get a host file read, OCR'd or handed to the
prior loader, nor its budgets raised; the refusal names nothing on the host."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from imaging import draw_sign, street_scene

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
SECRET_TEXT = "机密档案室"  # the host file's sign: it must never reach the thread's OCR lines

pytestmark = [
    pytest.mark.slow, pytest.mark.loopback,
    pytest.mark.skipif(not LANGGRAPH.exists(), reason="langgraph-cli[inmem] is not installed "
                       "(the test extra pins it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _sign(text: str) -> bytes:
    img = street_scene(900, 600, seed=4)
    draw_sign(img, [text], (120, 200), size=64)
    return _png(img)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``langgraph dev`` on a free loopback port, run from a scratch folder (it writes its
    state there) with the repository's langgraph.json; yields (base url, scratch folder)."""
    work = tmp_path_factory.mktemp("langgraph-dev")
    port = _free_port()
    env = {**os.environ, "SINOLOC_UPLOAD_DIR": str(work / "uploads"), "SINOLOC_OFFLINE": "1",
           "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false",
           "LANGCHAIN_TRACING_V2": "false", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("SINOLOC_LLM", None)
    env.pop("SINOLOC_IMAGES_ROOT", None)
    # the repository's langgraph.json with its paths made absolute (langgraph dev resolves them
    # against its working folder, and it writes its own state there)
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {name: str(ROOT / spec.removeprefix("./"))
                        for name, spec in config["graphs"].items()}
    config.pop("env", None)
    (work / "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen([str(LANGGRAPH), "dev", "--config", str(work / "langgraph.json"),
                             "--host", "127.0.0.1", "--port", str(port), "--no-browser",
                             "--no-reload", "--allow-blocking"],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        # its log says when it listens (module fixtures run before a test may open a socket)
        while b"Application started up" not in (work / "server.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("langgraph dev did not start:\n"
                            + (work / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, work
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work / ".langgraph_api", ignore_errors=True)


def _located_thread(client: httpx.Client) -> tuple[str, dict]:
    """A thread that located an honest upload: (thread id, its state's values)."""
    thread = client.post("/threads", json={}).json()["thread_id"]
    upload = base64.b64encode(_sign("杭州市西湖区文三路")).decode()
    run = client.post(f"/threads/{thread}/runs/wait", json={
        "assistant_id": "sinoloc", "input": {"request": {"image_path": upload}}})
    assert run.status_code == 200, run.text
    values = client.get(f"/threads/{thread}/state").json()["values"]
    assert values["prediction"] and values["request"]["image_path"]
    return thread, values


def _resume_after(client: httpx.Client, thread: str, values: dict, as_node: str) -> dict:
    """Write ``values`` as ``as_node`` and resume the thread: the state afterwards."""
    wrote = client.post(f"/threads/{thread}/state", json={"values": values, "as_node": as_node})
    assert wrote.status_code == 200, wrote.text
    client.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "sinoloc", "input": None})
    return client.get(f"/threads/{thread}/state").json()


def test_forged_state_cannot_have_a_host_file_read(server, tmp_path):
    url, _ = server
    secret = tmp_path / "private" / "archive.png"
    secret.parent.mkdir()
    secret.write_bytes(_sign(SECRET_TEXT))
    with httpx.Client(base_url=url, timeout=180) as client:
        thread, values = _located_thread(client)
        forged_request = {**values["request"], "image_path": str(secret)}
        forged_image = {**values["image"], "path": str(secret), "sha256": ""}
        state = _resume_after(client, thread, {"request": forged_request, "image": forged_image,
                                               "ingested_request": forged_request}, "ingest")
    read = " ".join(span["text"] for span in state["values"].get("ocr_spans") or [])
    assert SECRET_TEXT not in read and "档案" not in read
    error = str(state.get("tasks") or "") + str(state["values"].get("warnings") or "")
    assert "archive" not in error and str(tmp_path) not in error


def test_forged_prior_never_reaches_the_prior_loader(server, tmp_path):
    url, _ = server
    probe = tmp_path / "probe-dir"
    probe.mkdir()
    with httpx.Client(base_url=url, timeout=180) as client:
        thread, values = _located_thread(client)
        forged = {**values["request"], "prior": str(probe)}
        state = _resume_after(client, thread, {"request": forged, "ingested_request": forged},
                              "ingest")
    traces = state["values"].get("tool_trace") or []
    # the prior tool's answer would name the folder (it exists but is no checkpoint)
    assert not any("probe-dir" in t.get("summary", "") for t in traces)
    assert "probe-dir" not in str(state["values"].get("warnings"))


def test_forged_budgets_and_clock_are_not_honoured(server):
    url, _ = server
    with httpx.Client(base_url=url, timeout=180) as client:
        thread, values = _located_thread(client)
        forged = {**values["request"], "max_tool_calls": 200, "max_model_calls": 100,
                  "max_seconds": 1e12}
        before = len(values.get("tool_trace") or [])
        state = _resume_after(client, thread, {
            "request": forged, "ingested_request": forged, "started_at": time.time() + 1e9,
            "turn_base": {"tool_calls": -1000}}, "ingest")
    # no tool ran on the forged counters: the run was refused at the first guarded node
    assert len(state["values"].get("tool_trace") or []) == before
