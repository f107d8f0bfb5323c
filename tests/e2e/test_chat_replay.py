"""``sinoloc chat --record-dir DIR`` and ``sinoloc chat --replay DIR/THREAD IMAGE…``: a chat with
a scripted model served over HTTP on loopback (the OpenAI-compatible dialect, through the real
SDK) is recorded, locate run and follow-up questions alike; with the server stopped and the
network cut, the replay asks the recorded questions again and prints the same answers with no
connection attempted. An edited record is an error naming the file and line; a request the
record lacks stops the replay with one line; the deterministic policy records and replays too,
a second image and a review decision included."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys

import pytest
from chat_images import chat_images
from provider_dialects import Seen, Turn
from replay_runs import DIALECT, evidence, surveyor
from socket_guard import SocketGuard

from sinoloc.agent.records import load_record
from sinoloc.app.chat.repl import PROMPT
from sinoloc.app.cli.main import main

pytestmark = pytest.mark.loopback
KNOWLEDGE_QUESTION = "what does the knowledge base say about this district?"
WHY_QUESTION = "why this district?"


def chatting(seen: Seen) -> Turn:
    """The locate run as the replay tests' surveyor; a follow-up about the knowledge base asks
    it once more, then answers; any other follow-up is answered from the evidence ids."""
    questions = [t for t in seen.texts if "<<<QUESTION" in t]
    if not questions:
        return surveyor(seen)
    if KNOWLEDGE_QUESTION in questions[-1]:
        if len(seen.results_of("lookup_knowledge")) < 2:
            return Turn(calls=[("lookup_knowledge", {"query": "this district's street signs"})])
        return Turn(text="The knowledge base was asked twice; the signs agree with E1.")
    ids = [e["id"] for e in evidence(seen)]
    return Turn(text=f"Because {', '.join(ids) or 'nothing'} point there ({len(questions)} "
                     "question(s) so far).")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return chat_images(tmp_path_factory.mktemp("chat-replay"))


def chat(monkeypatch, capsys, args: list[str], lines: list[str] = ()) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(["chat", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def turns(out: str) -> list[list[str]]:
    """The output after each prompt line (what was asked, then what the run showed), up to
    /quit or the replay's closing line; a locate turn's first line (the path) left out."""
    blocks: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith(PROMPT):
            asked = line[len(PROMPT):]
            blocks.append(["<image>" if asked.endswith(".jpg") else asked])
        elif blocks and not line.startswith("replayed "):
            blocks[-1].append(line)
    return [b for b in blocks if b[0] != "/quit"]


def thread_of(out: str) -> str:
    return out.split("thread ", 1)[1].split()[0]


@pytest.fixture()
def recorded(monkeypatch, capsys, tmp_path, images):
    """A chat with the scripted model on loopback, recorded: (record folder, output, image)."""
    from provider_server import ScriptedServer

    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    shop, _ = images
    server = ScriptedServer(DIALECT.path)
    server.fallback = DIALECT.reply_for(chatting)
    with server:
        code, out, err = chat(monkeypatch, capsys, [
            str(shop), "--offline", "--llm", DIALECT.llm, "--base-url", server.url + "/v1",
            "--model-timeout", "30", "--db", str(tmp_path / "threads.sqlite"),
            "--record-dir", str(tmp_path / "records")],
            [WHY_QUESTION, KNOWLEDGE_QUESTION, "/quit"])
    assert code == 0, err
    assert len(server.requests) >= 5 and not server.unexpected
    return tmp_path / "records" / thread_of(out), out, shop


def test_a_recorded_chat_replays_offline_with_the_same_answers(recorded, monkeypatch, capsys,
                                                               tmp_path):
    folder, out, shop = recorded
    record = load_record(folder)  # valid: schema, hashes, no absolute path inside
    sha = hashlib.sha256(shop.read_bytes()).hexdigest()[:12]
    assert [r.image for r in record.runs] == [sha, f"{sha}.ask1", f"{sha}.ask2"]
    assert [r.steps[0].data for r in record.runs[1:]] == [
        {"question": WHY_QUESTION}, {"question": KNOWLEDGE_QUESTION}]  # the questions are kept
    assert all(r.finished and r.exchanges for r in record.runs)
    assert "The knowledge base was asked twice" in out

    image = tmp_path / "elsewhere" / "renamed.jpg"  # found by its content hash
    image.parent.mkdir()
    shutil.copy(shop, image)
    guard = SocketGuard(monkeypatch)  # the server is gone; nothing may connect anywhere
    code, replayed, err = chat(monkeypatch, capsys, [
        "--replay", str(folder), str(image), "--offline", "--db",
        str(tmp_path / "threads.sqlite")])
    assert code == 0, err
    assert guard.attempts == []
    assert turns(replayed) == turns(out)
    assert [t[0] for t in turns(replayed)] == ["<image>", WHY_QUESTION, KNOWLEDGE_QUESTION]
    assert "replayed 3 run(s): 0 miss(es), 0 live call(s)" in replayed


def test_an_edited_chat_record_names_the_file_and_line(recorded, monkeypatch, capsys, tmp_path):
    folder, _, shop = recorded
    edited = tmp_path / "edited"
    shutil.copytree(folder, edited)
    blobs = (edited / "blobs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(blobs, 1) if "knowledge base was asked" in line)
    blobs[number - 1] = blobs[number - 1].replace("asked twice", "asked thrice")
    (edited / "blobs.jsonl").write_text("".join(blobs), encoding="utf-8")
    code, out, err = chat(monkeypatch, capsys, ["--replay", str(edited), str(shop), "--offline"])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"sinoloc: {edited / 'blobs.jsonl'}:{number}: content does not match "
                          "its hash") and err.strip().endswith("(the line was edited)")


def test_a_request_the_record_lacks_stops_the_replay_with_one_line(recorded, monkeypatch, capsys):
    from sinoloc.agent.nodes import followup

    folder, out, shop = recorded
    real = followup.render_prompt
    monkeypatch.setattr(followup, "render_prompt",  # the follow-up prompt changed since
                        lambda name, **kw: real(name, **kw) + "\nAnswer in one sentence.")
    guard = SocketGuard(monkeypatch)
    code, replayed, err = chat(monkeypatch, capsys, ["--replay", str(folder), str(shop),
                                                     "--offline"])
    assert code == 1 and guard.attempts == []
    sha = hashlib.sha256(shop.read_bytes()).hexdigest()[:12]
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"sinoloc: replay miss: {sha}.ask1 step ") and "model" in err
    assert turns(replayed)[0] == turns(out)[0]  # the locate run replayed before the miss
    assert "Because" not in replayed


def test_the_deterministic_policy_records_and_replays_review_and_two_images(
        monkeypatch, capsys, tmp_path, images):
    shop, chengdu = images
    code, out, err = chat(monkeypatch, capsys, [
        str(shop), "--offline", "--db", str(tmp_path / "threads.sqlite"),
        "--record-dir", str(tmp_path / "records")],
        [WHY_QUESTION, "/review on", f"/image {chengdu}", "/approve", "/quit"])
    assert code == 0, err
    folder = tmp_path / "records" / thread_of(out)
    record = load_record(folder)
    a, b = (hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in (shop, chengdu))
    assert [r.image for r in record.runs] == [a, f"{a}.ask1", b, f"{b}.review3"]
    assert record.runs[2].steps[0].data == {"review": True}
    decision = record.runs[3].steps[0].data["decision"]  # as the graph was resumed with it
    assert decision["action"] == "approve" and not any(v for k, v in decision.items()
                                                       if k != "action")
    assert record.manifest.backend == "deterministic"

    guard = SocketGuard(monkeypatch)  # recorded --offline: replayed with the record's settings
    code, replayed, err = chat(monkeypatch, capsys, [
        "--replay", str(folder), str(chengdu), str(shop), "--db",
        str(tmp_path / "threads.sqlite")])
    assert code == 0, err
    assert guard.attempts == []
    assert turns(replayed) == [t for t in turns(out) if t[0] != "/review on"]
    assert "● 四川省成都市武侯区" in replayed
    assert "replayed 4 run(s): 0 miss(es), 0 live call(s)" in replayed

    code, _, err = chat(monkeypatch, capsys, ["--replay", str(folder), str(shop), "--offline"])
    assert code == 2  # the second image was not given: one line naming it
    assert err.strip().splitlines() == [
        f"sinoloc: the record's image(s) {b} (the first 12 hex digits of the content hash) are "
        "not among the images given: pass the photo files the thread located"]


def test_replay_miss_live_lets_the_live_model_answer_what_the_record_lacks(
        recorded, monkeypatch, capsys):
    from provider_server import ScriptedServer

    from sinoloc.agent.nodes import followup

    folder, out, shop = recorded
    real = followup.render_prompt
    monkeypatch.setattr(followup, "render_prompt",
                        lambda name, **kw: real(name, **kw) + "\nAnswer in one sentence.")
    server = ScriptedServer(DIALECT.path)
    server.fallback = DIALECT.reply_for(chatting)
    with server:
        code, replayed, err = chat(monkeypatch, capsys, [
            "--replay", str(folder), str(shop), "--offline", "--replay-miss", "live",
            "--llm", DIALECT.llm, "--base-url", server.url + "/v1", "--model-timeout", "30"])
    assert code == 0, err
    # the locate run came from the record; each follow-up left it at its first model request
    # and the live model answered the rest of it
    assert "replayed 3 run(s): 2 miss(es), " in replayed and server.requests
    assert turns(replayed)[0] == turns(out)[0]
    assert "Because E1" in replayed and "The knowledge base was asked twice" in replayed
