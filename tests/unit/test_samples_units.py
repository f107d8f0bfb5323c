"""The pure parts of ``samples``: the plan (budget shares, K lowered with a note, the
deterministic policy's one trajectory, prompt variants), the per-image tool cache (an identical
call made once, also when asked at the same time; findings in the key), the pool (union,
renumbering, one copy of what two trajectories found alike) and the selector (pooled support,
votes on a tie, agreement, no vote for a fallback)."""

import threading
import time

import pytest
from langchain_core.messages import HumanMessage

from sinoloc.agent.reasoning.selector import ballot, select
from sinoloc.agent.samples.cache import ToolCache, call_key
from sinoloc.agent.samples.plan import plan_samples, trajectory_input, variant_text
from sinoloc.agent.samples.pool import pool, remap_answer
from sinoloc.agent.schemas import Answer
from sinoloc.agent.settings import LocateRequest
from sinoloc.agent.toolbox.context import ToolContext
from sinoloc.agent.toolbox.places import GeocodeArgs
from sinoloc.agent.toolbox.text import CluesArgs
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport
from sinoloc.tools.fusion import fuse
from sinoloc.tools.ocr import OcrSpan


def state(**request) -> dict:
    return {"request": LocateRequest(image_path="x.jpg", adaptive_budget=False,
                                     **request).model_dump(mode="json"),
            "tool_trace": [{"call_id": f"prelude_{i}"} for i in range(3)],
            "messages": [HumanMessage(content="prelude", id="p1")], "image": {},
            "evidence": [], "started_at": 1.0}


def test_the_plan_splits_the_images_budgets_and_never_multiplies_them():
    plan = plan_samples(state(samples=3, max_model_calls=12, max_tool_calls=24), True)
    assert plan.k == 3 and plan.model_calls_each == 4 and plan.tool_calls_each == 7
    assert plan.k * plan.model_calls_each <= plan.image_model_calls == 12
    assert [s.variant for s in plan.samples] == ["direct", "text", "scene"]
    assert plan.samples[0].temperature is None  # trajectory 1 is the K = 1 trajectory
    assert len({s.temperature for s in plan.samples}) == 3
    verifier = plan_samples(state(samples=3, max_model_calls=12, sample_selector="verifier"),
                            True)
    assert verifier.k * verifier.model_calls_each + 1 <= 12  # a call kept for the verifier


def test_k_is_lowered_when_the_budget_is_too_small_and_the_note_says_so():
    plan = plan_samples(state(samples=4, max_model_calls=5), True)
    assert plan.k == 2 and plan.model_calls_each == 2
    assert plan.notes and plan.notes[0].startswith("samples lowered from 4 to 2")
    one = plan_samples(state(samples=3), can_sample=False)
    assert one.k == 1 and "deterministic policy" in one.notes[0]


def test_each_trajectory_starts_from_the_prelude_with_its_share_and_variant():
    s = state(samples=3, max_model_calls=12)
    plan = plan_samples(s, True)
    first, second = (trajectory_input(s, plan, sample) for sample in plan.samples[:2])
    assert first["messages"][0].content == "prelude"
    assert second["messages"][0].id == "p1" and "start from what is written" in \
        second["messages"][0].content
    assert first["request"]["max_model_calls"] == 4 and not first["request"]["adaptive_budget"]
    assert first["request"]["max_tool_calls"] == 3 + 7  # the prelude's calls count
    assert "90°, 180°, 270°, 0°" in variant_text(plan.samples[1], is_panorama=True)


def test_an_identical_call_is_made_once_even_when_asked_at_the_same_time():
    cache, runs = ToolCache(), []

    def slow():
        runs.append(1)
        time.sleep(0.05)
        return "result"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.run("k", slow)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == [1] and sorted(r[1] for r in results) == [False, True, True]
    assert cache.counts() == {"calls": 3, "hits": 2}


def test_a_failure_reaches_every_caller_of_the_same_call():
    cache = ToolCache()

    def fail():
        raise RuntimeError("provider down")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="provider down"):
            cache.run("k", fail)


def test_the_key_holds_the_findings_only_for_tools_that_read_them():
    request = LocateRequest(image_path="x.jpg")
    bare = ToolContext(request=request)
    read = ToolContext(request=request, ocr_spans=[OcrSpan(span_id="T1", text="文三路",
                                                           score=0.9, view_id="v")])
    geocode = GeocodeArgs(query="文三路138号")
    assert call_key("geocode_poi", geocode, bare) == call_key("geocode_poi", geocode, read)
    clues = CluesArgs()
    assert call_key("lookup_clues", clues, bare) != call_key("lookup_clues", clues, read)
    assert call_key("unknown_new_tool", clues, bare) != call_key("unknown_new_tool", clues, read)


def _evidence(i: str, text: str, adcode: str, level: str = "district", weight: float = 0.8):
    return Evidence(id=i, kind=EvidenceKind.OCR_ADDRESS, text=text, source="test",
                    regions=[RegionSupport(level=level, adcode=adcode, name=text, weight=1.0)],
                    weight=weight, confidence=0.9).model_dump(mode="json")


def test_the_pool_keeps_what_two_trajectories_found_alike_once_and_maps_their_ids():
    prelude = [_evidence("E1", "杭州", "330100", "city")]
    xihu = _evidence("E2", "西湖区文三路", "330106")
    one = {"index": 1, "evidence": [*prelude, xihu], "ocr_spans": []}
    two = {"index": 2, "evidence": [*prelude, {**xihu, "id": "E2"},
                                    _evidence("E3", "上城区解放路", "330102")], "ocr_spans": []}
    pooled = pool(prelude, [], [two, one])
    assert [e["text"] for e in pooled.evidence] == ["杭州", "西湖区文三路", "上城区解放路"]
    assert pooled.evidence_ids[1] == {"E1": "E1", "E2": "E2"}
    assert pooled.evidence_ids[2] == {"E1": "E1", "E2": "E2", "E3": "E3"}
    answer = {"district_evidence": ["E2"], "acknowledged_conflicts": {"E3": "outweighed"}}
    assert remap_answer(answer, {"E2": "E5", "E3": "E6"})["district_evidence"] == ["E5"]


XIHU = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
        "lon": 120.1305}
SHANGCHENG = {"province": "浙江省", "city": "杭州市", "district": "上城区", "lat": 30.2421,
              "lon": 120.1694}


def test_the_pooled_evidence_picks_over_the_votes_and_agreement_counts_alike_claims(regions):
    evidence = [Evidence.model_validate(_evidence("E1", "西湖区文三路", "330106")),
                Evidence.model_validate(_evidence("E2", "上城区", "330102", weight=0.3))]
    belief = fuse(evidence, regions)
    ballots = [ballot(1, Answer(**SHANGCHENG), True, regions),
               ballot(2, Answer(**SHANGCHENG), True, regions),
               ballot(3, Answer(**XIHU), True, regions)]
    chosen = select(ballots, belief, regions)
    assert chosen.chosen.index == 3 and chosen.votes == 1 and chosen.disagreed
    assert chosen.agreement == pytest.approx(1 / 3, abs=1e-3)
    alike = select([*ballots[:2], ballot(3, Answer(**SHANGCHENG), True, regions)], belief,
                   regions)
    assert alike.chosen.index == 1 and alike.agreement == 1.0 and not alike.disagreed
    assert alike.by_level == {"province": 1.0, "city": 1.0, "district": 1.0}


def test_a_fallback_has_no_vote_and_nothing_to_choose_from_is_said(regions):
    belief = fuse([], regions)
    ballots = [ballot(1, Answer(**XIHU), False, regions),
               ballot(2, Answer(**SHANGCHENG), True, regions)]
    chosen = select(ballots, belief, regions)
    assert chosen.chosen.index == 2 and chosen.agreement == 0.5 and chosen.distinct == 1
    nobody = select([ballot(1, Answer(**XIHU), False, regions)], belief, regions)
    assert nobody.chosen is None and nobody.votes == 0
