"""Every block marked ``<!-- example: NAME -->`` in README.md or a page of docs/ runs as written,
next to a photo.jpg the test renders. The create_agent example talks to recorded Gemini answers
served on 127.0.0.1."""

import json
import re
from pathlib import Path

import pytest
from imaging import hangzhou_shop
from provider_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```", re.S)
RECORDED = Path(__file__).parents[1] / "data" / "gemini"
GEMINI = r"/models/gemini-2\.5-flash:generateContent$"


def found() -> list[tuple[str, str, str]]:
    """(page, name, code) of every example, in page order."""
    return [(page.relative_to(ROOT).as_posix(), m["name"], m["code"]) for page in PAGES
            for m in EXAMPLE.finditer(page.read_text(encoding="utf-8"))]


def examples() -> dict[str, tuple[str, str]]:
    return {name: (page, code) for page, name, code in found()}


def test_the_readme_has_the_examples():
    names = [name for _, name, _ in found()]
    assert sorted(names) == sorted(set(names))  # each example once, wherever it lives
    assert set(names) == {"locate", "subgraph", "agent", "thread", "tools", "review"}
    assert examples()["locate"][0] == "README.md"  # the first use stays on the front page


@pytest.fixture
def photo_dir(tmp_path, monkeypatch):
    hangzhou_shop(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_example(name: str, capsys) -> str:
    page, code = examples()[name]
    exec(compile(code, f"{page}:{name}", "exec"), {"__name__": f"readme_{name}"})
    return capsys.readouterr().out


def test_locate(photo_dir, capsys):
    out = run_example("locate", capsys)
    assert out.startswith("浙江省 杭州市 西湖区 ")
    assert "E2 phone 0571-88886666" in out


def test_subgraph(photo_dir, capsys):
    out = run_example("subgraph", capsys)
    assert out.startswith("Taken in 杭州市 西湖区 (30.")


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


def test_agent(photo_dir, capsys, monkeypatch, loopback):
    pytest.importorskip("langchain_google_genai")
    import langchain.agents.factory as factory

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    with ScriptedServer(GEMINI) as server:
        # the example as written names the hosted model; only its address is swapped for the
        # recorded server's (create_agent builds the model with init_chat_model)
        real = factory.init_chat_model
        monkeypatch.setattr(factory, "init_chat_model",
                            lambda model, **kw: real(model, base_url=server.url, **kw))
        server.reply(200, recorded("agent_geolocate_call")).reply(200, recorded("agent_final"))
        out = run_example("agent", capsys)
    assert server.pending == 0 and not server.unexpected
    assert "杭州市西湖区" in out
    first = server.requests[0].json()
    declared = [f["name"] for tool in first["tools"] for f in tool["functionDeclarations"]]
    assert declared == ["geolocate_image"]
    second = server.requests[1].json()
    response = next(p["functionResponse"] for c in second["contents"] for p in c["parts"]
                    if "functionResponse" in p)
    text = json.dumps(response, ensure_ascii=False)
    assert "西湖区" in text and "330106" in text  # the tool's summary reached the model


def test_thread(photo_dir, capsys):
    out = run_example("thread", capsys).splitlines()
    assert out[0] == "西湖区 3"  # configurable top_k reached the request
    assert "need a language model" in out[1]


def test_tools(photo_dir, capsys):
    out = run_example("tools", capsys).splitlines()
    assert out[0] == str(["cnn_prior", "geocode_poi", "lookup_clues", "lookup_knowledge", "map_view",
                          "ocr", "reverse_geocode", "web_search"])
    assert "杭州市西湖区文三路138号" in out[1]
    assert json.loads(out[2])["evidence_ids"] == ["E1", "E2", "E3"]


def test_review(photo_dir, capsys, monkeypatch):
    monkeypatch.setenv("SINOLOC_CORRECTIONS", str(photo_dir / "corrections.jsonl"))
    out = run_example("review", capsys).splitlines()
    assert out[0] == "西湖区 ['approve', 'edit', 'reject', 'clue']"
    assert out[1] == "西湖区" and out[2].startswith("c-")
    kept = (photo_dir / "corrections.jsonl").read_text(encoding="utf-8")
    assert '"truth_adcode":"330106"' in kept
