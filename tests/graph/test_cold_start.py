"""Cold start (issue 21): the warm-up loads both RapidOCR models, and a single-image `sinoloc
locate` takes the OCR its warm-up read ahead, with the answer of a run that reads for itself."""

from __future__ import annotations

import json

from imaging import panorama_with_side_sign

import sinoloc.app.cli.main as cli
import sinoloc.app.cli.warmup as warmup
import sinoloc.tools.ocr as ocr


def test_warm_up_loads_the_recognizer_too():
    from sinoloc.tools.ocr.rapid import SPIN_ENTRY, RapidOcrEngine

    engine = RapidOcrEngine()
    engine.warm_up()  # a blank image alone never loads the recognizer
    loaded = engine._get()
    assert loaded.text_det is not None and loaded.text_rec is not None
    for model in (loaded.text_det, loaded.text_rec):  # idle workers sleep: no spinning
        options = model.session.session.get_session_options()
        assert options.get_session_config_entry(SPIN_ENTRY) == "0"


def test_single_image_run_takes_the_speculative_read(tmp_path, monkeypatch, capsys):
    path = tmp_path / "pano.jpg"
    panorama_with_side_sign(["杭州市西湖区文三路", "电话 0571-88886666"]).save(path, quality=92)
    taken: list[bool] = []
    take = ocr.take

    def spy(*args):
        spans = take(*args)
        taken.append(spans is not None)
        return spans

    monkeypatch.setattr(ocr, "take", spy)
    answers = []
    for speculative in (True, False):
        if not speculative:  # the same command, reading for itself
            monkeypatch.setattr(warmup, "prefetch_ocr", lambda image, engine: None)
        try:
            assert cli.main(["locate", str(path), "--json"]) == 0
        finally:
            warmup.finish_warm_ups()
        answers.append(json.loads(capsys.readouterr().out))
    assert taken == [True, False]  # the first run's first OCR was the one read ahead
    for answer in answers:
        answer.pop("timings")
        for call in answer["tool_calls"]:
            call.pop("seconds")
            call.pop("call_id")  # the policy's calls get fresh random ids
    assert answers[0] == answers[1] and answers[0]["city"] == "杭州市"
