"""``sinoloc serve --record-dir DIR``: a thread whose client opts in (``record: true``) records
its runs, a follow-up question included, into DIR/THREAD_ID; the record is valid, holds no host
path, and ``sinoloc locate --replay DIR/THREAD IMAGE`` replays it to the same prediction with the
network cut; ``sinoloc chat --replay DIR/THREAD IMAGE`` replays the whole thread, its follow-up
question and review decision included. A thread that did not opt in writes nothing, and a client
never names a folder."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest
from socket_guard import SocketGuard
from web_server import running_server

from sinoloc.agent.records import load_record
from sinoloc.app.chat.repl import PROMPT
from sinoloc.app.cli.common import demo_image
from sinoloc.app.cli.main import main
from sinoloc.app.web.thread_records import NOT_RECORDING
from sinoloc.eval.replay_compare import without_timings

pytestmark = pytest.mark.loopback
DEMO = demo_image().read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-record")
    with running_server(root, record_dir=root / "records") as (url, _runner), \
            httpx.Client(base_url=url, timeout=120) as client:
        yield client, root / "records", root


def locate(client: httpx.Client, settings: dict | None = None) -> httpx.Response:
    return client.post("/api/locate", files={"image": ("shop.jpg", DEMO, "image/jpeg")},
                       data={"settings": json.dumps(settings)} if settings is not None else None)


def ask(client: httpx.Client, thread: str, question: str) -> list[dict]:
    with client.stream("POST", f"/api/threads/{thread}/ask", json={"question": question}) as r:
        assert r.status_code == 200, r.read()
        return [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]


def test_a_recorded_thread_replays_offline_to_the_same_prediction(server, tmp_path, capsys,
                                                                   monkeypatch):
    client, records, root = server
    r = locate(client, {"record": True})
    assert r.status_code == 200, r.text
    thread = r.headers["x-sinoloc-thread"]
    events = ask(client, thread, "why this district?")
    assert not [e for e in events if e["kind"] == "error"], events
    record = load_record(records / thread)  # valid: schema, hashes, no absolute path inside
    sha = hashlib.sha256(DEMO).hexdigest()
    assert set(record.images) == {sha[:12], f"{sha[:12]}.ask1"}  # named by content hash
    assert record.manifest.settings == {"offline": True}  # the run's settings, no paths
    located = record.images[sha[:12]]
    assert located.sha256 == sha and located.finished and located.exchanges
    assert record.images[f"{sha[:12]}.ask1"].finished  # the follow-up is recorded too
    raw = "".join((records / thread / n).read_text(encoding="utf-8")
                  for n in ("blobs.jsonl", "steps.jsonl", "manifest.json"))
    assert str(root) not in raw and "base64" not in raw  # no host path, no image inside
    image = tmp_path / "elsewhere" / "renamed.jpg"  # found by its content hash
    image.parent.mkdir()
    image.write_bytes(DEMO)
    guard = SocketGuard(monkeypatch)
    assert main(["locate", str(image), "--offline", "--json", "--replay",
                 str(records / thread)]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert without_timings(replayed) == without_timings(r.json())
    assert record.images[f"{sha[:12]}.ask1"].steps[0].data == {"question": "why this district?"}
    assert main(["chat", "--replay", str(records / thread), str(image), "--offline"]) == 0
    conversation = capsys.readouterr().out  # the locate run, then the follow-up asked again
    assert conversation.index("● 浙江省杭州市西湖区") < conversation.index(
        f"{PROMPT}why this district?") < conversation.index(_reply(events))
    assert "replayed 2 run(s): 0 miss(es), 0 live call(s)" in conversation
    assert guard.attempts == []


def _reply(events: list[dict]) -> str:
    """The start of the follow-up's reply (the web's advice on adding a model is its own)."""
    return next(e["text"] for e in events if e["kind"] == "reply")[:40]


def test_a_thread_without_the_opt_in_writes_nothing(server):
    client, records, _ = server
    before = sorted(p.name for p in records.iterdir())
    for settings in (None, {"record": False}):
        r = locate(client, settings)
        assert r.status_code == 200, r.text
        thread = r.headers["x-sinoloc-thread"]
        ask(client, thread, "why?")
        assert not (records / thread).exists()
    assert sorted(p.name for p in records.iterdir()) == before


@pytest.mark.parametrize("settings, says", [
    ({"record": "/tmp/elsewhere"}, "record: true or false"),
    ({"record": {"dir": "x"}}, "record: true or false"),
    ({"record": 1}, "record: true or false"),
    ({"record_dir": "/tmp/elsewhere"}, "unknown field(s) record_dir"),
])
def test_a_client_cannot_name_a_folder(server, settings, says):
    client, records, _ = server
    before = sorted(p.name for p in records.iterdir())
    r = locate(client, settings)
    assert r.status_code == 400 and says in r.json()["error"], r.text
    assert sorted(p.name for p in records.iterdir()) == before


def test_a_server_without_the_operators_folder_refuses_to_record(tmp_path):
    with running_server(tmp_path) as (url, _runner), httpx.Client(base_url=url, timeout=120) as c:
        r = locate(c, {"record": True})
        assert r.status_code == 400 and r.json()["error"] == NOT_RECORDING, r.text
        assert locate(c, {"record": False}).status_code == 200


def test_a_recorded_threads_review_decision_is_recorded_and_replayed(server, tmp_path, capsys):
    client, records, _ = server
    upload = "data:image/jpeg;base64," + base64.b64encode(DEMO).decode()
    with client.stream("POST", "/api/locate/stream",
                       json={"image": upload, "settings": {"review": True, "record": True}}) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    thread = events[0]["text"]
    assert any(e["kind"] == "review" for e in events)
    with client.stream("POST", f"/api/threads/{thread}/review", json={"action": "approve"}) as r:
        done = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert any(e["kind"] == "result" for e in done), done
    sha = hashlib.sha256(DEMO).hexdigest()[:12]
    record = load_record(records / thread)
    assert set(record.images) == {sha, f"{sha}.review1"}
    assert all(i.finished for i in record.images.values())
    assert record.images[sha].steps[0].data == {"review": True}
    assert record.images[f"{sha}.review1"].steps[0].data["decision"]["action"] == "approve"
    image = tmp_path / "photo.jpg"
    image.write_bytes(DEMO)
    assert main(["chat", "--replay", str(records / thread), str(image), "--offline"]) == 0
    out = capsys.readouterr().out  # stops for review as it did, then the decision commits
    assert out.index(f"{PROMPT}/approve") < out.index("● 浙江省杭州市西湖区")
    assert "replayed 2 run(s): 0 miss(es), 0 live call(s)" in out
