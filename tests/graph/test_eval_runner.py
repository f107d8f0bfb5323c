"""The eval runner: rows as images finish, resume after a kill, per-image timeout, leak guards."""

import json

import pytest
from eval_data import labelled_set
from PIL import Image
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.api import Geolocator
from sinoloc.eval.datasets import dataset_fingerprint, load_dataset
from sinoloc.eval.results import ResultsLog
from sinoloc.eval.run_config import RunConfig
from sinoloc.eval.runner import PREDICTIONS, RunError, load_record, rows_of, run


def _run(data, out, regions, config=None, **kw):
    return run(load_dataset(data, regions), out, config or RunConfig(), dataset=str(data),
               dataset_sha256=dataset_fingerprint(data), progress=False, **kw)


def test_in_process_run_writes_one_row_per_image_and_records_the_run(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=2)
    record = _run(data, tmp_path / "run", regions, workers=0)
    rows = rows_of(tmp_path / "run")
    assert [r.id for r in rows] == ["shop", "beijing", "chengdu"]
    assert all(r.status == "ok" and r.prediction for r in rows)
    shop = rows[0]
    assert shop.prediction["city"] == "杭州市" and shop.truth.city == "杭州市"
    assert shop.attributes == {"cluster": "east"}
    assert record.sessions[0].rows_written == 3 and record.sessions[0].finished
    saved = load_record(tmp_path / "run")
    assert saved.config == RunConfig() and saved.sessions[0].code["sinoloc"]
    assert saved.dataset_sha256 == dataset_fingerprint(data)


def test_limit_then_resume_continues_and_refuses_a_changed_config(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=2)
    _run(data, tmp_path / "run", regions, workers=0, limit=1)
    assert [r.id for r in rows_of(tmp_path / "run")] == ["shop"]
    with pytest.raises(RunError, match="--resume"):
        _run(data, tmp_path / "run", regions, workers=0)
    with pytest.raises(RunError, match="different config"):
        _run(data, tmp_path / "run", regions, RunConfig(verify=False), workers=0, resume=True)
    record = _run(data, tmp_path / "run", regions, workers=0, resume=True)
    assert [r.id for r in rows_of(tmp_path / "run")] == ["shop", "beijing", "chengdu"]
    assert [s.rows_written for s in record.sessions] == [1, 2]


def test_a_partial_last_line_is_cut_off_and_redone(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=1)
    _run(data, tmp_path / "run", regions, workers=0, limit=1)
    log = tmp_path / "run" / PREDICTIONS
    with log.open("ab") as f:  # what a kill in the middle of a write leaves
        f.write(b'{"id": "beijing", "status": "ok", "seconds": 1.0, "tru')
    assert [r.id for r in ResultsLog(log).read()] == ["shop"]
    _run(data, tmp_path / "run", regions, workers=0, resume=True)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["shop", "beijing"]


def test_file_names_labels_and_exif_never_reach_the_model_or_a_tool(tmp_path, regions):
    folder = tmp_path / "set"
    labelled_set(folder, scenes=0)
    secret = folder / "LEAKFILE_杭州西湖.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}  # Beijing
    Image.open(folder / "shop.jpg").save(secret, exif=exif)
    data = folder / "leak.csv"
    data.write_text("id,image,lat,lon,hint\nLEAKID42,LEAKFILE_杭州西湖.jpg,30.2741,120.1247,"
                    "LEAKATTR\n", encoding="utf-8")
    model = ScriptedChatModel(script=[reply(call("ocr")),
                                      reply(call("geocode_poi", query="文三路"))],
                              repeat_last=False)
    _run(data, tmp_path / "run", regions, locator=Geolocator(chat_model=model))
    [row] = rows_of(tmp_path / "run")
    assert model.received, "the model was never called"
    assert row.status == "ok" and row.attributes == {"hint": "LEAKATTR"}
    sent = json.dumps([[m.model_dump() for m in turn] for turn in model.received],
                      ensure_ascii=False)
    prediction = json.dumps(row.prediction, ensure_ascii=False)
    for secret_text in ("LEAKFILE", "LEAKID42", "LEAKATTR", "杭州西湖", "set.csv",
                        str(folder), "30.2741"):
        assert secret_text not in sent
        assert secret_text not in prediction  # tool arguments, outbound queries, evidence
    assert not row.prediction["image"]["exif_gps_used"]
    assert all(e["kind"] != "exif_gps" for e in row.prediction["evidence"])
    assert row.prediction["city"] == "杭州市"  # from the sign, not from Beijing's EXIF
