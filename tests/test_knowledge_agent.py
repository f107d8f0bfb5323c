"""The knowledge base inside the agent: a scripted model looks a clue up and cites the entry;
verification flags a hypothesis that contradicts what was seen; a bank sign read by OCR locates
an image on the offline default; the `sinoloc knowledge` CLI and `locate --knowledge`."""

import json
import subprocess
import sys

import pytest
from imaging import draw_sign, street_scene
from langchain_core.messages import ToolMessage
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.api import Geolocator
from sinoloc.agent.policies.model import ChatModelPolicy
from sinoloc.agent.reasoning.verify import verify
from sinoloc.agent.schemas import Answer
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport

LHASA = {"province": "西藏自治区", "city": "拉萨市", "district": "城关区", "lat": 29.6527,
         "lon": 91.1322}
SANYA = {"province": "海南省", "city": "三亚市", "district": "天涯区", "lat": 18.2525,
         "lon": 109.5051}
HARBIN = {"province": "黑龙江省", "city": "哈尔滨市", "district": "道里区", "lat": 45.7570,
          "lon": 126.6180}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = tmp_path_factory.mktemp("kb") / "plain.jpg"
    street_scene(seed=3).save(path, quality=92)
    return path


def locate(path, model):
    return Geolocator(ChatModelPolicy(model, "scripted:kb")).locate(path)


def last_tool_message(messages, name):
    return [m for m in messages if isinstance(m, ToolMessage) and m.name == name][-1]


def test_points_used_here_lie_in_their_districts(regions):
    for answer in (LHASA, SANYA, HARBIN):
        assert regions.reverse(answer["lon"], answer["lat"]).name == answer["district"]


def test_model_looks_up_a_clue_and_cites_the_entry(plain):
    def cite(messages):
        result = json.loads(last_tool_message(messages, "lookup_knowledge").content)
        ids = result["evidence_ids"]
        return reply(call("submit_answer", **LHASA, province_evidence=ids, city_evidence=ids,
                          district_evidence=ids, observations=["Tibetan script on shop signs"],
                          reasoning="Tibetan script beside Chinese on every shop sign"))

    model = ScriptedChatModel(script=[
        reply(call("lookup_knowledge", query="Tibetan script beside Chinese on shop signs",
                   seen_in_image=True)),
        cite])
    p = locate(plain, model)
    assert (p.province, p.city, p.district) == ("西藏自治区", "拉萨市", "城关区")
    assert p.verification.accepted and p.answered_by == "scripted:kb"
    [item] = [e for e in p.evidence if e.kind is EvidenceKind.KNOWLEDGE]
    assert item.knowledge_id == "script-tibetan" and item.source == "knowledge:script-tibetan"
    assert "zh.wikipedia.org/wiki/藏文" in item.detail
    assert 0 < item.confidence <= 0.6  # the model's own reading, not a sign read by OCR
    seen = last_tool_message(model.received[1], "lookup_knowledge").content
    assert "[script-tibetan]" in seen and "source:" in seen
    trace = next(t for t in p.tool_calls if t.tool == "lookup_knowledge")
    assert trace.evidence_ids == [item.id]


def test_a_background_question_adds_no_evidence(plain):
    model = ScriptedChatModel(script=[
        reply(call("lookup_knowledge", query="which provinces use yellow-black striped bollards?",
                   seen_in_image=False)),
        reply(call("submit_answer", **HARBIN))])
    p = locate(plain, model)
    assert not [e for e in p.evidence if e.kind is EvidenceKind.KNOWLEDGE]
    answer = json.loads(last_tool_message(model.received[1], "lookup_knowledge").content)
    assert "[bollard-yellow-black]" in answer["result"] and "does not localise" in answer["result"]


def test_an_inconsistent_hypothesis_is_flagged_and_corrected(plain):
    model = ScriptedChatModel(script=[
        reply(call("submit_answer", **SANYA, observations=["snow on the ground"])),
        reply(call("submit_answer", **HARBIN, observations=["snow on the ground"]))])
    p = locate(plain, model)
    assert p.province == "黑龙江省" and p.verification.accepted and p.verification.round == 2
    feedback = last_tool_message(model.received[1], "submit_answer").content
    assert "observations_consistent" in feedback and "[climate-snow-cover]" in feedback
    assert "海南省" in feedback


def test_verify_flags_knowledge_evidence_and_accepts_a_backed_acknowledgement(regions):
    look_right = Evidence(id="E1", kind=EvidenceKind.KNOWLEDGE, text="望右 LOOK RIGHT",
                          source="clues:…", knowledge_id="road-marking-look-right",
                          regions=[RegionSupport(level="province", adcode="810000",
                                                 name="香港特别行政区", weight=1.0)],
                          weight=0.9, confidence=0.8)
    address = Evidence(id="E2", kind=EvidenceKind.OCR_ADDRESS, text="深圳市福田区",
                       source="clues:…", weight=0.95, confidence=0.95,
                       regions=[RegionSupport(level="district", adcode="440304",
                                              name="深圳市福田区", weight=1.0)])
    shenzhen = Answer(province="广东省", city="深圳市", district="福田区", lat=22.5431,
                      lon=114.0579)

    def failed(answer, evidence):
        verdict = verify(answer, evidence, regions)
        return {c.name: c.message for c in verdict.checks if not c.passed}

    problems = failed(shenzhen, [look_right])
    assert "occurs only in 香港特别行政区" in problems["observations_consistent"]
    # acknowledged without evidence of its own: still a contradiction
    unbacked = shenzhen.model_copy(update={"acknowledged_conflicts": {"E1": "a tourist sign"}})
    assert "observations_consistent" in failed(unbacked, [look_right])
    backed = unbacked.model_copy(update={
        "province_evidence": ["E2"], "city_evidence": ["E2"], "district_evidence": ["E2"]})
    assert "observations_consistent" not in failed(backed, [look_right, address])
    hong_kong = Answer(province="香港特别行政区", city="香港特别行政区", district="湾仔区",
                       lat=22.2793, lon=114.1747, province_evidence=["E1"],
                       city_evidence=["E1"], district_evidence=["E1"])
    assert failed(hong_kong, [look_right]) == {}


def test_a_bank_sign_locates_the_image_offline(tmp_path):
    img = street_scene(seed=5)
    draw_sign(img, ["汉口银行"], (300, 200), size=64, bg=(170, 20, 30))
    path = tmp_path / "bank.jpg"
    img.save(path, quality=92)
    p = Geolocator().locate(path)
    [item] = [e for e in p.evidence if e.kind is EvidenceKind.KNOWLEDGE]
    assert item.knowledge_id == "bank-hankou" and item.span_id
    # the point minimises the expected distance, so it may sit just outside 武汉; the ranking
    # says where the evidence points
    assert p.province == "湖北省" and p.city_candidates[0].name == "武汉市"
    assert p.verification.accepted


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sinoloc.agent.commands.main", *args],
                          capture_output=True, text=True, timeout=180, env=env)


def test_knowledge_cli_search_show_stats_validate(tmp_path):
    out = run_cli("knowledge", "search", "维吾尔文招牌", "-k", "2", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert hits[0]["id"] == "script-uyghur" and hits[0]["region_names"] == ["新疆维吾尔自治区"]
    assert "bm25s" not in out.stderr
    shown = run_cli("knowledge", "show", "power-csg", "--json")
    assert json.loads(shown.stdout)["patterns"] == ["南方电网"]
    assert run_cli("knowledge", "show", "no-such-entry").returncode == 2
    stats = json.loads(run_cli("knowledge", "stats", "--json").stdout)
    assert stats["entries"] >= 300 and len(stats["province"]) == 34
    good = tmp_path / "mine.csv"
    good.write_text("id,kind,clue_zh,clue_en,regions,strength,exclusive,excludes,patterns,source\n"
                    "my-chain,commerce,某某连锁超市,A chain,420100:1,0.7,,,,my notes\n",
                    encoding="utf-8")
    assert "1 of yours: ok" in run_cli("knowledge", "validate", str(good)).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text(encoding="utf-8").replace("420100", "999999"), encoding="utf-8")
    out = run_cli("knowledge", "validate", str(bad))
    assert out.returncode == 2 and f"error: {bad}:2: unknown adcode 999999" in out.stdout


def test_locate_refuses_a_bad_clue_file_before_any_work(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind,clue_zh,clue_en,regions,strength,exclusive,excludes,patterns,source\n"
                   "x,commerce,某某连锁超市,A chain,420100:1,0.7,,,,\n", encoding="utf-8")
    out = run_cli("locate", "--demo", "--knowledge", str(bad))
    assert out.returncode == 2 and "every clue needs a source" in out.stderr
    assert out.stdout == ""


def test_building_the_cli_parser_imports_nothing_heavy():
    from sinoloc.agent.commands.knowledge import USER_FILES_ENV as spelled
    from sinoloc.tools.knowledge.corpus import USER_FILES_ENV

    assert spelled == USER_FILES_ENV
    probe = ("import sys; from sinoloc.agent.commands.main import _parser; _parser(); "
             "print(sorted(m for m in ('sinoloc.tools.regions', 'sinoloc.tools.knowledge', "
             "'sinoloc.agent.toolbox.registry', 'sinoloc.eval.run_config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
