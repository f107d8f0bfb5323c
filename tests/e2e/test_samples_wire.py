"""``sinoloc locate --samples 3`` with scripted models over loopback: three trajectories of the
real SDK's policy run concurrently on one image, and one answer is selected. Each scripted
trajectory recognises itself by the prompt variant it reads (prompts/sample_variants.md), so
what each one answers does not depend on the order its requests arrive in. No test reaches the
network."""

from __future__ import annotations

import dataclasses
import json

import pytest
from imaging import street_scene
from provider_dialects import ADDRESS, DIALECTS, RIGHT, WRONG, Seen, Turn, scripted_model_env
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
    scripted_model_env(monkeypatch)


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


def temperature(backend: str, body: dict) -> float | None:
    """The sampling temperature a request asked for (None: the server's default)."""
    if backend == "gemini":
        return (body.get("generationConfig") or {}).get("temperature")
    if backend == "ollama":
        return (body.get("options") or {}).get("temperature")
    return body.get("temperature")


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
    # each trajectory samples at its own temperature, on the wire
    sent = {trajectory(dialect.read(r)): temperature(backend, r.json()) for r in server.requests}
    assert (sent[2], sent[3]) == (1.0, 0.4) and sent[1] not in (1.0, 0.4)
    asked = [r["text"] for r in clue_runs if r["text"]]  # the prelude's lookup has no text
    assert sorted(asked) == sorted({ADDRESS, PHONE_ONLY})
    assert s.tool_cache == {"calls": 3, "hits": 1}


def point_in(regions, name: str) -> dict:
    """A claim of district ``name`` of 杭州市 at a point inside it (from the region data)."""
    from sinoloc.tools.regions import Level

    city = regions.lookup("杭州市", level=Level.CITY)[0]
    district = regions.lookup(name, level=Level.DISTRICT, within=city)[0]
    assert regions.reverse(district.lon, district.lat) == district
    return {"province": "浙江省", "city": "杭州市", "district": name, "lat": district.lat,
            "lon": district.lon}


def test_three_different_answers_give_the_one_the_pooled_evidence_supports(regions, blank,
                                                                          pauses, capsys):
    dialect = DIALECTS["gemini"]
    gongshu = point_in(regions, "拱墅区")
    script = scripted({1: (PHONE_ONLY, WRONG), 2: (PHONE_ONLY, gongshu), 3: (ADDRESS, RIGHT)})
    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(script)
        p = locate(capsys, blank, dialect, server)
    s = p.samples
    assert districts(p) == ("浙江省", "杭州市", "西湖区")  # trajectory 3's, not the first
    assert s.selected == 3 and s.selected_by == "evidence"
    assert s.distinct_answers == 3 and s.agreeing == 1
    assert s.agreement == pytest.approx(1 / 3, abs=1e-3)
    best = s.support["浙江省杭州市西湖区"]
    assert all(best > v for k, v in s.support.items() if k != "浙江省杭州市西湖区")
    assert any("disagreed (3 different answers)" in w for w in p.warnings)
    # the pool holds what every trajectory found: the phone once (two trajectories asked the
    # same), the address once
    assert sum("0571" in e.text for e in p.evidence if e.kind.value == "phone") == 1
    assert any("文三路" in e.text or "西湖区" in e.text for e in p.evidence)


def _failing(dialect, script, fails: int, how):
    """Trajectory ``fails`` gets ``how(dialect)`` for every request; the others follow
    ``script``."""
    def respond(record):
        seen = dialect.read(record)
        if trajectory(seen) == fails:
            return how(dialect)
        return dialect.turn(script(seen), bool(record.json().get("stream")))
    return respond


def _hang(dialect):
    from provider_server import Reply

    return Reply(0, b"", fault="hang")


@pytest.mark.parametrize("failure", ["daily quota", "timeout"])
def test_a_failing_trajectory_leaves_the_answer_to_the_others(failure, blank, pauses, capsys):
    dialect = DIALECTS["gemini"]
    script = scripted({1: (ADDRESS, RIGHT), 2: (ADDRESS, RIGHT), 3: (ADDRESS, RIGHT)})
    how = (lambda d: d.daily_quota()) if failure == "daily quota" else _hang
    with ScriptedServer(dialect.path) as server:
        server.fallback = _failing(dialect, script, 2, how)
        p = locate(capsys, blank, dialect, server)
    s = p.samples
    assert districts(p) == ("浙江省", "杭州市", "西湖区")
    failed = s.trajectories[1]
    assert not failed.voted and failed.answered_by == "fusion"
    kind = "quota_exhausted" if failure == "daily quota" else "timeout"
    assert failed.failure.startswith(f"{kind}:"), failed.failure
    assert s.selected in (1, 3) and s.agreeing == 2
    assert s.agreement == pytest.approx(2 / 3, abs=1e-3)
    assert any(w.startswith("trajectory 2: ") for w in p.warnings)
    assert p.backend_fallback is None and p.answered_by == dialect.llm


def _never_submits(seen: Seen) -> Turn:
    """Keeps asking for clues (a new text each time) and never submits."""
    return Turn(calls=[("lookup_clues", {"text": f"{PHONE_ONLY} #{len(seen.tool_results)}"})])


@pytest.mark.parametrize("max_calls", [24, 8])
def test_total_model_calls_never_exceed_the_images_budget(max_calls, blank, pauses, capsys):
    dialect = DIALECTS["gemini"]
    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(_never_submits)
        code = main(["locate", str(blank), "--llm", dialect.llm, "--base-url", server.url,
                     "--json", "--model-timeout", "1", "--samples", "3",
                     "--max-model-calls", str(max_calls)])
        out = capsys.readouterr().out
    assert code == 0
    p = GeoPrediction.model_validate_json(out)
    s = p.samples
    spent = p.usage.model_calls + p.usage.model_errors
    assert len(server.requests) == spent <= s.image_model_calls <= max_calls
    assert s.k * s.model_calls_per_trajectory <= s.image_model_calls
    assert all(t.model_calls <= s.model_calls_per_trajectory for t in s.trajectories)
    if s.k < 3:  # the budget allows fewer trajectories: lowered, and said so
        assert any(n.startswith("samples lowered from 3 to") for n in s.notes)
        assert any(n.startswith("samples lowered") for n in p.warnings)
    assert p.answered_by == "fusion"  # nothing was submitted: the pooled belief decided


def test_a_verifier_model_reads_the_candidates_and_picks_one(regions, blank, pauses, capsys):
    dialect = DIALECTS["gemini"]
    gongshu = point_in(regions, "拱墅区")
    geolocate = scripted({1: (PHONE_ONLY, WRONG), 2: (PHONE_ONLY, gongshu),
                          3: (ADDRESS, RIGHT)})
    asked: list[Seen] = []

    def script(seen: Seen) -> Turn:
        if "choose_answer" in seen.tools:
            asked.append(seen)
            return Turn(calls=[("choose_answer", {"candidate": 2, "reasoning": "E2"})])
        return geolocate(seen)

    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(script)
        p = locate(capsys, blank, dialect, server, "--sample-selector", "verifier")
    s = p.samples
    assert len(asked) == 1 and asked[0].images == 1  # it saw the image
    listed = " ".join(asked[0].texts)
    assert all(name in listed for name in ("上城区", "拱墅区", "西湖区"))
    assert s.selected_by == "verifier" and districts(p)[2] == "拱墅区"
    assert p.usage.model_calls == len(server.requests) <= s.image_model_calls


def test_eval_compare_sets_k1_against_k3(tmp_path, pauses, capsys):
    """``eval run`` once with one trajectory and once with three (the same scripted model), then
    ``eval compare``: accuracy, agreement and cost side by side, and accuracy by agreement."""
    from eval_data import labelled_set

    dialect = DIALECTS["gemini"]
    data = labelled_set(tmp_path / "set", scenes=1)
    script = scripted({1: (ADDRESS, RIGHT), 2: (ADDRESS, RIGHT), 3: (PHONE_ONLY, WRONG)})
    runs = {}
    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(script)
        for k in (1, 3):
            runs[k] = tmp_path / f"k{k}"
            assert main(["eval", "run", str(data), "--out", str(runs[k]), "--workers", "0",
                         "--llm", dialect.llm, "--base-url", server.url, "--model-timeout",
                         "1", "--samples", str(k), "--max-model-calls", "24",
                         "--no-progress"]) == 0
        requests = len(server.requests)
    capsys.readouterr()
    out = tmp_path / "cmp"
    assert main(["eval", "compare", str(runs[1]), str(runs[3]), "--out", str(out),
                 "--no-plots"]) == 0
    text = (out / "comparison.md").read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| k")]
    head = next(line for line in text.splitlines() if "| agreement |" in line)
    columns = [c.strip() for c in head.strip("|").split("|")]
    k1 = dict(zip(columns, [c.strip() for c in table[-2].strip("|").split("|")], strict=True))
    k3 = dict(zip(columns, [c.strip() for c in table[-1].strip("|").split("|")], strict=True))
    assert (k1["samples"], k1["agreement"]) == ("1", "–")
    assert k3["samples"] == "3" and k3["agreement"] == "0.67"  # 2 of 3 on both images
    assert float(k3["model calls"]) > float(k1["model calls"])  # the cost of all three
    assert int(k3["tokens"].replace(",", "")) > int(k1["tokens"].replace(",", ""))
    assert "## Accuracy by agreement among trajectories — k3" in text
    assert "| 2 of 3 | 2 | 100.0% |" in text
    assert "samples=3" in text  # the run's label says how it ran
    assert main(["eval", "report", str(runs[3]), "--no-plots"]) == 0  # one run's report
    report = (runs[3] / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Accuracy by agreement among trajectories" in report and "| 2 of 3 | 2 |" in report
    summary = json.loads((runs[3] / "report" / "summary.json").read_text(encoding="utf-8"))
    assert summary["agreement"]["mean_agreement"] == pytest.approx(2 / 3, abs=1e-3)
    assert main(["eval", "report", str(runs[1]), "--no-plots"]) == 0
    assert "agreement among" not in (runs[1] / "report" / "report.md").read_text(encoding="utf-8")
    # every request the model server saw is counted in one of the two runs' costs
    spent = [json.loads(line)["prediction"]["usage"]["model_calls"]
             for k in (1, 3) for line in (runs[k] / "predictions.jsonl").read_text().splitlines()]
    assert requests == sum(spent)


def test_a_verifier_that_does_not_choose_leaves_the_choice_to_the_evidence(regions, blank,
                                                                           pauses, capsys):
    dialect = DIALECTS["gemini"]
    gongshu = point_in(regions, "拱墅区")
    geolocate = scripted({1: (PHONE_ONLY, WRONG), 2: (PHONE_ONLY, gongshu),
                          3: (ADDRESS, RIGHT)})

    def script(seen: Seen) -> Turn:
        if "choose_answer" in seen.tools:
            return Turn(text="They all look plausible to me.")
        return geolocate(seen)

    with ScriptedServer(dialect.path) as server:
        server.fallback = dialect.reply_for(script)
        p = locate(capsys, blank, dialect, server, "--sample-selector", "verifier")
    s = p.samples
    assert s.selected_by == "evidence" and districts(p)[2] == "西湖区"
    assert any(n.startswith("the verifier failed (the verifier made no choose_answer call)")
               for n in s.notes)
    assert p.usage.model_calls == len(server.requests)  # its call is counted all the same
