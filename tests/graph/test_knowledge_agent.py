"""The knowledge base inside the agent: a scripted model looks a clue up and cites the entry;
verification flags a hypothesis that contradicts what was seen; a bank sign read by OCR locates
an image on the offline default; the `sinoloc knowledge` CLI and `locate --knowledge`."""

import json

import pytest
from imaging import draw_sign, street_scene
from langchain_core.messages import ToolMessage
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.api import Geolocator
from sinoloc.agent.policies.model import ChatModelPolicy
from sinoloc.tools.evidence import EvidenceKind

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
