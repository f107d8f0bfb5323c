"""sinoloc chat end to end: the real CLI entry point with scripted terminal input and a scripted
model given through ``--llm python:…``; threads in SQLite resumed with their history."""

import io
import json
import sys

import pytest
from chat_images import chat_images
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.app.cli.main import main

HANGZHOU = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
            "lon": 120.1247, "province_evidence": ["E1", "E2", "E3"],
            "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"],
            "reasoning": "the shop sign's address, the 0571 landline and the 浙A plate agree"}
CHENGDU = {"province": "四川省", "city": "成都市", "district": "武侯区", "lat": 30.6425,
           "lon": 104.0432, "province_evidence": ["E1", "E2"], "city_evidence": ["E1", "E2"],
           "district_evidence": ["E1"], "reasoning": "the sign's address and the 028 landline"}
BOARD_REPLY = "The blue board reads 杭州市西湖区文三路138号 (E1): 杭州, not 江苏."
WHY_REPLY = "Nothing points to 江苏省: E1 and E2 both say 成都市."

SCRIPTED: ScriptedChatModel | None = None


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return chat_images(tmp_path_factory.mktemp("chat"))


def scripted_model() -> ScriptedChatModel:
    """The factory ``--llm python:test_chat:scripted_model`` loads."""
    assert SCRIPTED is not None
    return SCRIPTED


def chat(monkeypatch, capsys, args: list[str], lines: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = main(["chat", *args])
    return code, capsys.readouterr().out


def test_chat_two_images_follow_up_and_resume(monkeypatch, capsys, tmp_path, images):
    global SCRIPTED
    shop, chengdu = images
    db = tmp_path / "threads.sqlite"
    llm = ["--llm", "python:test_chat:scripted_model", "--db", str(db)]
    SCRIPTED = ScriptedChatModel(script=[
        reply(call("submit_answer", **HANGZHOU)),
        reply(call("ocr", box=[0.05, 0.1, 0.65, 0.4]), text="Let me zoom into the board."),
        reply(text=BOARD_REPLY),
        reply(call("submit_answer", **CHENGDU)),
    ])
    code, out = chat(monkeypatch, capsys, llm, [
        str(shop), "zoom into the blue board", "/candidates", f"/image {chengdu}", "/quit"])
    assert code == 0 and not SCRIPTED.script
    thread = out.split("thread ", 1)[1].split()[0]
    # the first image streams its steps, then the answer
    first = out.index("● 浙江省杭州市西湖区")
    assert out.index("→ ocr()") < out.index("← ocr: ok") < out.index("⇒ 浙江省") < first
    assert out.index("✓ accepted") < first
    # the follow-up triggered a new tool call on the same image, then a reply in words
    zoom = out.index('→ ocr(box=[0.05, 0.1, 0.65, 0.4])')
    assert first < out.index("… Let me zoom into the board.") < zoom
    assert zoom < out.index("← ocr: ok", zoom) < out.index(BOARD_REPLY)
    follow_up = SCRIPTED.received[2]
    assert follow_up[-1].type == "tool" and "杭州市西湖区" in follow_up[-1].content
    assert any("zoom into the blue board" in m.text for m in follow_up if m.type == "human")
    # /candidates lists the ranked regions of the current answer
    cands = out.index("provinces: 浙江省 100%", out.index(BOARD_REPLY))
    assert "1. 浙江省杭州市西湖区" in out[cands:]
    # the second image starts afresh on the same thread: its own evidence numbering
    second = out.index("● 四川省成都市武侯区")
    assert second > cands
    assert SCRIPTED.received[3][1].text.count("E1") >= 1
    assert not any("文三路" in m.text for m in SCRIPTED.received[3])  # image 1 is gone

    # --list shows the thread with both images and the question
    code, listed = chat(monkeypatch, capsys, ["--list", "--db", str(db)], [])
    assert code == 0 and thread in listed
    assert "2 image(s), 1 question(s)" in listed and "四川省成都市武侯区" in listed

    # --thread resumes: the transcript is shown and the model sees the conversation so far
    SCRIPTED = ScriptedChatModel(script=[reply(text=WHY_REPLY)])
    code, resumed = chat(monkeypatch, capsys, [*llm, "--thread", thread],
                         ["why not 江苏?", "/evidence", "/quit"])
    assert code == 0 and f"resuming thread {thread}" in resumed
    history = resumed[: resumed.index("why not 江苏?")]
    for line in (f"image: {shop}", "answer: 浙江省杭州市西湖区", "you: zoom into the blue board",
                 f"sinoloc: {BOARD_REPLY}", f"image: {chengdu}", "answer: 四川省成都市武侯区"):
        assert line in history, line
    assert WHY_REPLY in resumed
    sent = SCRIPTED.received[0]
    assert sent[1].type == "human" and "chengdu" not in sent[1].text.lower()
    assert any(m.type == "ai" and m.tool_calls and m.tool_calls[0]["name"] == "submit_answer"
               for m in sent)  # the answer it gave before is in the context
    assert "why not 江苏?" in sent[-1].text
    assert "E2   phone        «028-85551234»" in resumed


def test_chat_without_a_model_explains_and_commands_work(monkeypatch, capsys, tmp_path, images):
    shop, _ = images
    monkeypatch.chdir(tmp_path)  # /map writes beside the working directory
    code, out = chat(monkeypatch, capsys, ["--db", str(tmp_path / "t.sqlite")], [
        "why?", str(shop), "why not 江苏?", "show the candidates", "/json", "/map", "/reset",
        "/candidates", "/image /no/such/file.jpg", "/bogus", "/help", "/quit"])
    assert code == 0
    assert "No image yet" in out
    assert "● 浙江省杭州市西湖区" in out
    assert "need a language model" in out
    assert "provinces: 浙江省 100%" in out
    payload = out[out.index("{\n"): out.index("\n}\n") + 2]
    assert json.loads(payload)["district_adcode"] == "330106"
    map_line = next(line for line in out.splitlines() if line.startswith("map: "))
    assert map_line.endswith(".html")
    # /candidates after /reset: the new thread has no answer
    assert "new thread" in out and out.count("No answer for the current image yet") == 1
    assert "cannot read that image" in out and "no such file" in out
    assert "unknown command /bogus" in out and "/image PATH" in out


def test_cli_list_with_no_store(monkeypatch, capsys, tmp_path):
    code, out = chat(monkeypatch, capsys, ["--list", "--db", str(tmp_path / "none.sqlite")], [])
    assert code == 0 and "no threads yet" in out


def test_bad_llm_spec_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = main(["chat", "--db", str(tmp_path / "t.sqlite"), "--llm", "python:no_such_mod:x"])
    assert code == 2 and "no_such_mod" in capsys.readouterr().err


def test_the_chat_commands_hints_name_its_store_and_an_unknown_thread_is_an_error(
        monkeypatch, capsys, tmp_path, images):
    shop, _ = images
    db = tmp_path / "elsewhere.sqlite"
    code, out = chat(monkeypatch, capsys, ["--db", str(db)], [str(shop), "why not 江苏?", "/quit"])
    assert code == 0
    thread = out.split("thread ", 1)[1].split()[0]
    resume = f"sinoloc chat --thread {thread} --db {db.resolve()}"
    assert f"resume it with `{resume}`" in out
    assert f"`{resume} --llm SPEC`" in out and "Geolocator(" not in out  # the CLI's advice
    code, out = chat(monkeypatch, capsys, ["--db", str(db), "--thread", thread], ["/quit"])
    assert code == 0 and f"resuming thread {thread}" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("/quit\n"))
    code = main(["chat", "--db", str(db), "--thread", "no-such-thread"])
    captured = capsys.readouterr()
    assert code == 2 and "no thread no-such-thread in" in captured.err
    assert "thread no-such-thread (" not in captured.out  # no empty thread started
