"""sinoloc chat end to end: the real CLI entry point with scripted terminal input and a scripted
model given through ``--llm python:…``; threads in SQLite resumed with their history."""

import contextlib
import io
import json
import os
import select
import sys
import time
from pathlib import Path

import pytest
from imaging import draw_sign, hangzhou_shop, street_scene
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.chat.events import ChatEvent, event_line, stream_events
from sinoloc.agent.chat.repl import command_of, looks_like_image_path
from sinoloc.agent.chat.threads import ThreadStore
from sinoloc.agent.commands.main import main

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


def scripted_model() -> ScriptedChatModel:
    """The factory ``--llm python:test_chat:scripted_model`` loads."""
    assert SCRIPTED is not None
    return SCRIPTED


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat")
    shop = folder / "shop.jpg"
    hangzhou_shop(shop)
    chengdu = street_scene(seed=5)
    draw_sign(chengdu, ["成都市武侯区人民南路四段", "电话028-85551234"], (120, 160), size=46)
    chengdu_path = folder / "chengdu.jpg"
    chengdu.save(chengdu_path, quality=92)
    return shop, chengdu_path


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
    first = out.index("● 浙江省 杭州市 西湖区")
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
    second = out.index("● 四川省 成都市 武侯区")
    assert second > cands
    assert SCRIPTED.received[3][1].text.count("E1") >= 1
    assert not any("文三路" in m.text for m in SCRIPTED.received[3])  # image 1 is gone

    # --list shows the thread with both images and the question
    code, listed = chat(monkeypatch, capsys, ["--list", "--db", str(db)], [])
    assert code == 0 and thread in listed
    assert "2 image(s), 1 question(s)" in listed and "四川省 成都市 武侯区" in listed

    # --thread resumes: the transcript is shown and the model sees the conversation so far
    SCRIPTED = ScriptedChatModel(script=[reply(text=WHY_REPLY)])
    code, resumed = chat(monkeypatch, capsys, [*llm, "--thread", thread],
                         ["why not 江苏?", "/evidence", "/quit"])
    assert code == 0 and f"resuming thread {thread}" in resumed
    history = resumed[: resumed.index("why not 江苏?")]
    for line in (f"image: {shop}", "answer: 浙江省 杭州市 西湖区", "you: zoom into the blue board",
                 f"sinoloc: {BOARD_REPLY}", f"image: {chengdu}", "answer: 四川省 成都市 武侯区"):
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
    assert "● 浙江省 杭州市 西湖区" in out
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


class Terminal:
    """The real ``sinoloc chat`` process on a pseudo-terminal (Ctrl-C is a real SIGINT)."""

    def __init__(self, argv: list[str], env: dict):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the CLI
            os.execvpe(argv[0], argv, env)
        self.output, self._mark = b"", 0

    def expect(self, text: str, timeout: float = 120) -> float:
        """Wait for ``text`` after what was matched before; the seconds it took."""
        start, wanted = time.perf_counter(), text.encode()
        while wanted not in self.output[self._mark:]:
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise AssertionError(f"no {text!r} in {self.output.decode(errors='replace')}")
            if select.select([self.fd], [], [], min(left, 0.5))[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"exited before {text!r}: "
                                         f"{self.output.decode(errors='replace')}")
                self.output += chunk
        self._mark = self.output.index(wanted, self._mark) + len(wanted)
        return time.perf_counter() - start

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 60) -> int:
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.2)[0]:
                with contextlib.suppress(OSError):
                    self.output += os.read(self.fd, 65536)
        os.kill(self.pid, 9)
        raise AssertionError("the chat did not exit")


CLI = Path(sys.executable).with_name("sinoloc")


@pytest.mark.skipif(not hasattr(os, "fork") or not CLI.exists(),
                    reason="needs a POSIX pseudo-terminal and the installed CLI")
def test_ctrl_c_cancels_the_turn_not_the_session(tmp_path, images):
    from imaging import panorama_with_side_sign

    shop, _ = images
    panorama = tmp_path / "pano.jpg"
    panorama_with_side_sign(["成都市武侯区"], width=4096).save(panorama)
    env = {**os.environ, "SINOLOC_CHAT_DB": str(tmp_path / "t.sqlite"), "TERM": "dumb"}
    term = Terminal([str(CLI), "chat"], env)
    term.expect("sinoloc› ")
    term.send(f"{shop}\r")
    term.expect("● 浙江省 杭州市 西湖区")
    term.expect("sinoloc› ")
    # CPython's readline notices a SIGINT only while it waits in select(): a Ctrl-C in the
    # instant between printing the prompt and that wait is seen at the next key. A person is
    # never that fast; the test waits like one.
    time.sleep(0.5)
    term.send("\x03")  # at the prompt: a reminder, the session goes on
    term.expect("/quit or Ctrl-D leaves")
    term.send(f"{panorama}\r")
    term.expect("→ ocr()")
    term.send("\x03")  # during the turn: the turn ends, the session does not
    term.expect("(cancelled")
    term.expect("sinoloc› ")
    term.send("/candidates\r")
    term.expect("No answer for the current image yet")
    term.send(f"{shop}\r")
    term.expect("● 浙江省 杭州市 西湖区")
    term.send("/quit\r")
    assert term.wait() == 0


def test_cli_list_with_no_store(monkeypatch, capsys, tmp_path):
    code, out = chat(monkeypatch, capsys, ["--list", "--db", str(tmp_path / "none.sqlite")], [])
    assert code == 0 and "no threads yet" in out


def test_bad_llm_spec_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = main(["chat", "--db", str(tmp_path / "t.sqlite"), "--llm", "python:no_such_mod:x"])
    assert code == 2 and "no_such_mod" in capsys.readouterr().err


# ------------------------------------------------------------------ units
@pytest.mark.parametrize(("line", "expected"), [
    ("/candidates", ("/candidates", "")),
    ("/image  a b.jpg ", ("/image", "a b.jpg")),
    ("/QUIT", ("/quit", "")),
    ("show candidates?", ("/candidates", "")),
    ("Open the map", ("/map", "")),
    ("打开地图", ("/map", "")),
    ("证据", ("/evidence", "")),
    ("why not 江苏?", None),
    ("show me the candidates in 江苏", None),
])
def test_command_of(line, expected):
    assert command_of(line) == expected


def test_looks_like_image_path(tmp_path):
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x")
    assert looks_like_image_path(str(image)) and looks_like_image_path(f"'{image}'")
    assert not looks_like_image_path(str(tmp_path / "missing.jpg"))
    assert not looks_like_image_path("why not 江苏?")


def test_stream_events_and_lines():
    start = stream_events("custom", {"event": "tool_start", "tool": "ocr",
                                     "args": {"heading": 90, "box": None}, "call_id": "c1"})
    assert [event_line(e) for e in start] == ["  → ocr(heading=90)"]
    end = stream_events("custom", {"event": "tool_end", "trace": {
        "call_id": "c1", "tool": "ocr", "args": {}, "status": "ok", "seconds": 0.1,
        "summary": "2 text line(s):\nT1 a\nT2 b", "evidence_ids": ["E4"]}})
    assert event_line(end[0]) == "  ← ocr: ok → E4  2 text line(s): · T1 a · T2 b"
    assert stream_events("custom", "free text") == []
    verdict = {"accepted": False, "round": 1, "feedback": "the point is outside 西湖区",
               "checks": [{"name": "point_in_region", "passed": False}]}
    lines = [event_line(e) for e in stream_events("updates", {"verify": {"verdict": verdict}})]
    assert lines == ["  ✗ sent back (point_in_region): the point is outside 西湖区"]
    reply_event = stream_events("updates", {"policy": {"reply": "Because E1.", "warnings": []}})
    assert reply_event == [ChatEvent(kind="reply", text="Because E1.")]


def test_thread_store_lists_most_recent_first(tmp_path):
    with ThreadStore(tmp_path / "s.sqlite") as store:
        store.record("a", image="/x/1.jpg")
        store.record("b", image="/x/2.jpg")
        store.record("a", question=True, answer="浙江省")
        store.record("a", image="/x/3.jpg")
        threads = store.threads()
    assert [t.thread_id for t in threads] == ["a", "b"]
    a = threads[0]
    # the answer 浙江省 was about 1.jpg: once 3.jpg is sent it is no longer "the last answer"
    assert (a.images, a.questions, a.first_image, a.last_image, a.last_answer) == (
        2, 1, "/x/1.jpg", "/x/3.jpg", None)
    store_b = threads[1]
    assert (store_b.last_image, store_b.last_answer) == ("/x/2.jpg", None)
    with ThreadStore(tmp_path / "s.sqlite") as again:  # persisted
        assert again.exists("b") and not again.exists("c")
