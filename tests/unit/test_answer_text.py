"""How an answer reads on every text surface: a guess marked in batch lines with its confidence,
one form of a place name, one rounding of a probability, the claimed district's place at the
head of the candidate list explained, the offline policy's steps not called a model's."""

from __future__ import annotations

import argparse

from langchain_core.messages import AIMessage

from sinoloc.agent.batch import BatchRow
from sinoloc.agent.output.render import (
    candidate_lines,
    claimed_first_note,
    headline,
    pct,
    place_label,
    place_names,
    render_text,
    summary_line,
)
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.app.chat.events import stream_events
from sinoloc.app.cli import locate as locate_command

IMAGE = {"sha256": "0" * 64, "width": 10, "height": 10, "is_panorama": False,
         "exif_gps_used": False}


def _candidate(rank, province, city, district, adcode, probability):
    return {"rank": rank, "province": province, "city": city, "district": district,
            "adcode": adcode, "probability": probability, "lat": 34.8, "lon": 113.7}


def _guess(**changes) -> GeoPrediction:
    """The shape of a no-evidence answer on the dev bench: the claimed district comes
    top-down (the most populous province's likeliest district) and holds less belief than a
    district elsewhere."""
    data = {
        "province": "河南省", "province_adcode": "410000", "city": "郑州市",
        "city_adcode": "410100", "district": "金水区", "district_adcode": "410105",
        "lat": 34.81, "lon": 113.74, "confidence": {"province": 0.0644, "city": 0.0056,
                                                  "district": 0.00076},
        "precision_km": 912.0, "basis": "prior_only", "evidence": [],
        "candidates": [_candidate(1, "河南省", "郑州市", "金水区", "410105", 0.00076),
                       _candidate(2, "北京市", "北京市", "朝阳区", "110105", 0.00126),
                       _candidate(3, "广东省", "东莞市", "东莞市", "441900", 0.00118)],
        "reasoning": "No locating evidence.", "backend": "deterministic", "image": IMAGE}
    return GeoPrediction.model_validate({**data, **changes})


def test_a_place_is_written_one_way_without_repeated_levels():
    assert place_label("广东省", "东莞市", "东莞市") == "广东省东莞市"
    assert place_label("北京市", "北京市", "东城区") == "北京市东城区"
    assert place_label("浙江省", "杭州市", "西湖区") == "浙江省杭州市西湖区"
    assert place_label("浙江省", None, None) == "浙江省"
    p = _guess(province="广东省", city="东莞市", district="东莞市")
    assert place_names(p) == "广东省东莞市" and headline(p).startswith("广东省东莞市  (")
    lines = candidate_lines(_guess())
    assert "北京市朝阳区" in lines[1] and "广东省东莞市 " in lines[2]
    assert "北京市 北京市" not in "\n".join(lines) and "东莞市 东莞市" not in "\n".join(lines)


def test_the_headline_and_the_list_round_a_probability_alike():
    assert [pct(x) for x in (0.0, 0.0003, 0.00076, 0.00126, 0.0056, 0.0644, 0.0996, 0.5, 1.0)] \
        == ["0%", "<0.1%", "0.1%", "0.1%", "0.6%", "6.4%", "10%", "50%", "100%"]
    p = _guess()
    text = render_text(p)
    first_candidate = next(line for line in text.splitlines() if line.startswith("   1. "))
    assert "district 0.1%" in text and " 0.1%  *" in first_candidate  # not 0% and 0.1%


def test_the_claimed_district_first_with_less_belief_says_why():
    p = _guess()
    lines = candidate_lines(p)
    assert lines[0].lstrip().startswith("1. 河南省郑州市金水区") and "top-down" in lines[0]
    assert all("top-down" not in line for line in lines[1:])
    assert claimed_first_note(p) is not None
    ordered = _guess(candidates=[_candidate(1, "河南省", "郑州市", "金水区", "410105", 0.002),
                                 _candidate(2, "北京市", "北京市", "朝阳区", "110105", 0.00126)])
    assert claimed_first_note(ordered) is None and "top-down" not in "\n".join(candidate_lines(ordered))


def test_a_batch_text_line_marks_a_guess_and_shows_its_confidence(capsys):
    guess, located = _guess(), _guess(basis="evidence", confidence={
        "province": 0.99, "city": 0.97, "district": 0.93})
    assert summary_line(guess).startswith("GUESS (no locating evidence): 河南省郑州市金水区")
    assert "confidence province 6.4% · city 0.6% · district 0.1%" in summary_line(guess)
    assert not summary_line(located).startswith("GUESS")
    assert "confidence province 99% · city 97% · district 93%" in summary_line(located)
    args = argparse.Namespace(json=False, csv=False)
    emit = locate_command._row_writer(args, None, "jsonl", None)
    for name, p in (("a.jpg", guess), ("b.jpg", located)):
        emit(BatchRow(file=name, prediction=p.model_dump(mode="json")))
    a, b = capsys.readouterr().out.splitlines()
    assert a.startswith("a.jpg: GUESS (no locating evidence): ") and "confidence" in a
    assert b.startswith("b.jpg: 河南省郑州市金水区  (") and "district 93%" in b


def _policy_update(backend, **extra):
    message = AIMessage(content="Geocode the street-level text.", tool_calls=[
        {"name": "geocode_poi", "args": {"query": "文三路"}, "id": "c1"}])
    return {"policy": {"backend": backend, "messages": [message], **extra}}


def test_the_offline_policys_steps_are_not_labelled_model():
    (offline,) = stream_events("updates", _policy_update("deterministic"))
    assert offline.kind == "policy"
    (fallback,) = stream_events("updates", _policy_update("gemini", backend_fallback="HTTP 500"))
    assert fallback.kind == "policy"
    (model,) = stream_events("updates", _policy_update("gemini"))
    assert model.kind == "model"


def test_the_map_legend_writes_its_ranges_in_one_style():
    import re

    from sinoloc.agent.output.mapdata import BINS, _legend

    labels = [c.label for c in _legend()]
    assert len(labels) == len(BINS)
    assert labels[0].startswith("≥ ") and labels[-1].startswith("< ")
    for label in labels:
        assert re.fullmatch(r"(≥ |< )?\d+(\.\d+)?( – \d+(\.\d+)?)?%", label), label
        assert not re.search(r"\.0\b", label), label  # no 10.0% beside 30%
