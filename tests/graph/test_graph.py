"""The graph end to end: the deterministic policy on rendered images, and a scripted policy
that drives the same slot the way a language model would (including a rejected answer)."""

import json

from imaging import hangzhou_shop, panorama_with_side_sign
from langchain_core.messages import AIMessage, ToolMessage

from sinoloc.agent.api import Geolocator
from sinoloc.agent.graph import build_graph


def test_hangzhou_shop_sign_and_plate(tmp_path, regions):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    p = Geolocator().locate(path)
    assert (p.province, p.city, p.district) == ("浙江省", "杭州市", "西湖区")
    assert p.district_adcode == "330106"
    assert regions.reverse(p.lon, p.lat).adcode == "330106"
    kinds = {e.kind.value for e in p.evidence}
    assert {"ocr_address", "phone", "plate"} <= kinds
    assert p.verification.accepted and p.basis == "evidence"
    assert p.confidence.district > 0.9
    assert [t.tool for t in p.tool_calls][:3] == ["cnn_prior", "ocr", "lookup_clues"]
    assert p.tool_calls[0].status == "unavailable"
    assert p.candidates[0].adcode == "330106" and len(p.candidates) == 10
    assert all(e.id.startswith("E") for e in p.evidence)


def test_panorama_side_sign_is_read(tmp_path):
    path = tmp_path / "pano.jpg"
    panorama_with_side_sign(["成都市武侯区科华北路", "028-85551234"], heading=100).save(path)
    p = Geolocator().locate(path)
    assert (p.province, p.city, p.district) == ("四川省", "成都市", "武侯区")
    ocr = next(t for t in p.tool_calls if t.tool == "ocr")
    assert "h090" in ocr.summary  # read in the 90° view, not the centre one


def test_blank_image_answers_from_prior_with_low_confidence(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (120, 160, 200)).save(path)
    p = Geolocator().locate(path)
    assert p.basis == "prior_only" and p.evidence == []
    assert p.confidence.province < 0.2
    assert any("prior" in w for w in p.warnings)


def test_exif_gps_decides_unless_ignored(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
    path = tmp_path / "gps.jpg"
    Image.new("RGB", (640, 480), (90, 90, 90)).save(path, exif=exif)
    p = Geolocator().locate(path)
    assert p.evidence[0].kind.value == "exif_gps" and p.city == "北京市"
    assert abs(p.lat - 39.9075) < 1e-3 and p.precision_km <= 0.05
    q = Geolocator().locate(path, ignore_exif=True)
    assert q.basis == "prior_only" and any("EXIF" in w for w in q.warnings)


class ScriptedPolicy:
    """A stand-in for a language model: replays fixed tool calls, one message per turn."""

    name = "scripted"

    def __init__(self, turns):
        self.turns = list(turns)
        self.seen: list[list] = []

    def __call__(self, state):
        self.seen.append(list(state["messages"]))
        calls = self.turns.pop(0)
        return AIMessage(content="", tool_calls=[
            {"name": n, "args": a, "id": f"c{len(self.seen)}_{i}", "type": "tool_call"}
            for i, (n, a) in enumerate(calls)])


def test_scripted_policy_is_sent_back_then_accepted(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    wrong = {"province": "江苏省", "city": "南京市", "district": "鼓楼区", "lat": 32.07,
             "lon": 118.77, "province_evidence": ["E1"]}
    right = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.26,
             "lon": 120.13, "province_evidence": ["E1", "E2", "E3"],
             "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"],
             "reasoning": "address, landline and plate agree"}
    policy = ScriptedPolicy([
        [("reverse_geocode", {"lat": 30.26, "lon": 120.13})],
        [("submit_answer", wrong)],
        [("submit_answer", right)],
    ])
    graph = build_graph(policy)
    out = graph.invoke({"request": {"image_path": str(path)}})
    p = out["prediction"]
    assert (p["province"], p["city"], p["district"]) == ("浙江省", "杭州市", "西湖区")
    assert p["verification"]["accepted"] and p["verification"]["round"] == 2
    assert p["backend"] == "scripted"
    # the model saw the rejection with reasons before its second submission
    feedback = [m for m in policy.seen[-1] if isinstance(m, ToolMessage)
                and m.name == "submit_answer"]
    assert feedback and "contradicts" in feedback[-1].content
    reverse = [m for m in policy.seen[1] if isinstance(m, ToolMessage)
               and m.name == "reverse_geocode"]
    assert "西湖区" in json.loads(reverse[0].content)["result"]


def test_unknown_tool_and_bad_arguments_are_reported_not_raised(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    answer = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.26,
              "lon": 120.13, "province_evidence": ["E1", "E2", "E3"],
              "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"]}
    policy = ScriptedPolicy([
        [("teleport", {}), ("reverse_geocode", {"lat": 999})],
        [("submit_answer", answer)],
    ])
    out = build_graph(policy).invoke({"request": {"image_path": str(path)}})
    statuses = [t["status"] for t in out["prediction"]["tool_calls"]]
    assert statuses[3:] == ["error", "error"]  # after the prelude's three calls
    assert out["prediction"]["district"] == "西湖区"


def test_verify_loop_is_capped(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    bad = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 39.9, "lon": 116.4}
    policy = ScriptedPolicy([[("lookup_clues", {"text": "杭州市西湖区"})]]
                            + [[("submit_answer", bad)]] * 3)
    out = build_graph(policy).invoke({"request": {"image_path": str(path),
                                                  "max_verify_rounds": 3}})
    p = out["prediction"]
    assert not p["verification"]["accepted"] and p["verification"]["round"] == 3
    assert any("verification did not pass" in w for w in p["warnings"])


def test_state_is_json_serialisable(tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver

    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    out = graph.invoke({"request": {"image_path": str(path)}}, config)
    values = graph.get_state(config).values
    state = {k: v for k, v in values.items() if k != "messages"}
    # plain JSON both ways: no tuple, set, enum or model object that json would change or refuse
    assert json.loads(json.dumps(state, ensure_ascii=False)) == state
    assert state["prediction"] == out["prediction"] and state["prediction"]["district"] == "西湖区"
    assert state["evidence"]  # the checkpoint holds what the run found, not an empty shell
