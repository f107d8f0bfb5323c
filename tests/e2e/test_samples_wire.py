"""``sinoloc locate --samples 3`` with scripted models over loopback: three trajectories of the
real SDK's policy run concurrently on one image, and one answer is selected. Each scripted
trajectory recognises itself by the prompt variant it reads (prompts/sample_variants.md), so
what each one answers does not depend on the order its requests arrive in. No test reaches the
network."""

from __future__ import annotations

import dataclasses

import pytest
from imaging import street_scene
from provider_dialects import ADDRESS, DIALECTS, RIGHT, WRONG, Seen, Turn
from provider_server import ScriptedServer

pytest.importorskip("langchain_google_genai")
pytest.importorskip("langchain_openai")
pytest.importorskip("langchain_ollama")
pytestmark = pytest.mark.loopback

from sinoloc.agent.policies import model as policy_module  # noqa: E402
from sinoloc.agent.schemas import GeoPrediction  # noqa: E402
from sinoloc.agent.toolbox import registry  # noqa: E402
from sinoloc.app.cli.main import main  # noqa: E402

VARIANT_CUES = {"start from what is written": 2, "start from the scene": 3,
                "do not settle on the first hypothesis": 4}
PHONE_ONLY = "联系电话0571-88886666"  # Hangzhou, no district
SHANGCHENG = "杭州市上城区解放路100号"


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    """A photo with no text: every clue comes from the trajectories' own calls."""
    path = tmp_path_factory.mktemp("img") / "street.jpg"
    street_scene(320, 240).save(path)
    return path


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    for name in ("GOOGLE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, "test-key-not-real")
    for name in ("SINOLOC_LLM", "SINOLOC_LLM_BASE_URL", "SINOLOC_PRIOR_CHECKPOINT",
                 "SINOLOC_WEB_SEARCH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pauses(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(policy_module, "pause", waits.append)
    return waits


@pytest.fixture
def clue_runs(monkeypatch):
    """How often the lookup_clues tool really ran (a repeated identical call is not a run)."""
    runs: list[dict] = []
    spec = registry.TOOLS["lookup_clues"]

    def counted(args, ctx):
        runs.append(args.model_dump())
        return spec.run(args, ctx)

    monkeypatch.setitem(registry.TOOLS, "lookup_clues", dataclasses.replace(spec, run=counted))
    return runs


def trajectory(seen: Seen) -> int:
    """Which trajectory sent this request (1: no variant)."""
    text = " ".join(seen.texts)
    return next((i for cue, i in VARIANT_CUES.items() if cue in text), 1)


def scripted(plan: dict[int, tuple[str, dict]]):
    """Trajectory i reads the clue text plan[i][0], then submits plan[i][1] citing what the
    lookup found."""
    def decide(seen: Seen) -> Turn:
        text, answer = plan[trajectory(seen)]
        ids = seen.evidence_ids("lookup_clues")
        if not seen.results_of("lookup_clues"):
            return Turn(calls=[("lookup_clues", {"text": text})])
        cited = {level: ids for level in ("province_evidence", "city_evidence",
                                          "district_evidence")}
        return Turn(calls=[("submit_answer", {**answer, "confidence": 0.8, **cited,
                                              "reasoning": f"from {text}"})])
    return decide


def base_url(dialect, server) -> str:
    return server.url + ("/v1" if dialect.name == "openai" else "")


def locate(capsys, image, dialect, server, *extra) -> GeoPrediction:
    code = main(["locate", str(image), "--llm", dialect.llm, "--base-url",
                 base_url(dialect, server), "--json", "--model-timeout", "1",
                 "--samples", "3", "--max-model-calls", "24", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return GeoPrediction.model_validate_json(out)


def districts(p: GeoPrediction) -> tuple:
    return p.province, p.city, p.district


@pytest.mark.parametrize("backend", list(DIALECTS))
def test_two_agree_one_wrong_gives_the_agreeing_answer(backend, blank, pauses, clue_runs,
                                                       capsys):
    dialect = DIALECTS[backend]
    script = scripted({1: (ADDRESS, RIGHT), 2: (ADDRESS, RIGHT), 3: (PHONE_ONLY, WRONG)})
    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(script)
        p = locate(capsys, blank, dialect, server)
    assert not server.unexpected
    assert districts(p) == ("浙江省", "杭州市", "西湖区")
    s = p.samples
    assert s is not None and s.k == 3 and s.selected in (1, 2)
    assert s.agreeing == 2 and s.agreement == pytest.approx(2 / 3, abs=1e-3)
    assert [t.voted for t in s.trajectories] == [True, True, True]
    assert s.distinct_answers == 2
    assert not any("disagreed" in w for w in p.warnings)
    # the cost of all: every request the server saw is in the usage
    assert p.usage.model_calls == len(server.requests) == 6
    # identical tool calls made once: trajectories 1 and 2 asked for the same lookup
    asked = [r["text"] for r in clue_runs if r["text"]]  # the prelude's lookup has no text
    assert sorted(asked) == sorted({ADDRESS, PHONE_ONLY})
    assert s.tool_cache == {"calls": 3, "hits": 1}
