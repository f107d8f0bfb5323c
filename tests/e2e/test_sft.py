"""Chain-of-thought distillation: make-data against recorded teacher answers (the label never
in a prompt), LoRA training of a tiny random Qwen2-VL on CPU (the loss falls, checkpoints
resume), and the adapter answering through the graph in the local backend."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from eval_data import labelled_set
from imaging import street_scene
from provider_server import ScriptedServer

from sinoloc.agent.sft.make_data import check_label_free, label_strings, make_data
from sinoloc.agent.sft.records import CotRecord, TeacherAnswer, parse_teacher
from sinoloc.agent.sft.train import TrainConfig, split_by_location, train
from sinoloc.eval.datasets import load_dataset
from sinoloc.tools.online.store import OnlineStore

pytest.importorskip("langchain_google_genai")

RECORDED = Path(__file__).parents[1] / "data" / "teacher"
GEMINI = r"/models/gemini-2\.5-pro:generateContent$"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


@pytest.fixture
def server(loopback):
    """The teacher's API on 127.0.0.1, answering recorded Gemini responses."""
    with ScriptedServer(GEMINI) as server:
        yield server
    assert not server.unexpected, [r.path for r in server.unexpected]


@pytest.fixture
def teacher(monkeypatch, server):
    from sinoloc.agent.llm import LlmSpec, load_chat_model

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    return load_chat_model(LlmSpec.parse("google_genai:gemini-2.5-pro", server.url))


def prompts_sent(server) -> list[str]:
    texts = []
    for request in server.requests:
        body = request.json()
        texts.append("\n".join(p.get("text", "") for c in body["contents"] for p in c["parts"]))
    return texts


def test_make_data_with_recorded_teacher(tmp_path, teacher, server, regions):
    data = labelled_set(tmp_path / "set", scenes=2)
    items = [i for i in load_dataset(data, regions) if i.usable]
    out = tmp_path / "cot.jsonl"
    store = OnlineStore(tmp_path / "teacher.sqlite")
    for name in ("cot_good", "cot_far", "cot_no_answer"):
        server.reply(200, recorded(name))
    summary = make_data(items, out, teacher, "google_genai:gemini-2.5-pro",
                        max_error_km=200, requests_per_minute=6000, store=store)
    assert server.pending == 0
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert summary.written == 3 and summary.kept == 1
    shop = records["shop"]
    assert shop["kept"] and shop["error_km"] < 5 and shop["answer"]["district"] == "西湖区"
    assert shop["explanation"].startswith("Script and language") and "ANSWER" not in \
        shop["explanation"]
    assert "杭州市西湖区文三路138号" in shop["student_prompt"]  # read off the sign by OCR
    far = records["beijing"]
    assert not far["kept"] and "over 200" in far["reason"] and far["error_km"] > 200
    assert records["chengdu"]["reason"] == "no ANSWER line"
    assert summary.cost_usd == pytest.approx(
        ((1800 + 1500 + 1500) * 1.25 + (260 + 120 + 20) * 10.0) / 1e6)
    # every prompt that left: no id, file name, true coordinates or adcode
    for item, text in zip(items, prompts_sent(server), strict=True):
        assert not [s for s in label_strings(item) if s in text], item.id
    # resume: nothing is asked again; a new output file is answered from the cache
    asked = len(server.requests)
    resumed = make_data(items, out, teacher, "google_genai:gemini-2.5-pro", store=store)
    cached = make_data(items, tmp_path / "second.jsonl", teacher,
                       "google_genai:gemini-2.5-pro", store=store)
    assert resumed.skipped_existing == 3 and resumed.written == 0
    assert len(server.requests) == asked  # the server was not asked again
    assert cached.cached == 3 and cached.cost_usd == 0


def test_the_prompt_does_not_depend_on_the_label(tmp_path, teacher, server, regions):
    """The same pixels under other ids, file names and labels give byte-identical prompts."""
    first = labelled_set(tmp_path / "a", scenes=1)
    other = tmp_path / "b"
    other.mkdir()
    shutil.copyfile(tmp_path / "a" / "shop.jpg", other / "renamed-photo.jpg")
    shutil.copyfile(tmp_path / "a" / "beijing.jpg", other / "x-2.jpg")
    (other / "set.csv").write_text("id,image,lat,lon\nq-17,renamed-photo.jpg,23.1291,113.2644\n"
                                   "q-18,x-2.jpg,45.8038,126.5350\n", encoding="utf-8")
    sent = []
    for folder, data in ((tmp_path / "a", first), (other, other / "set.csv")):
        items = [i for i in load_dataset(data, regions) if i.usable]
        before = len(server.requests)
        server.reply(200, recorded("cot_good")).reply(200, recorded("cot_good"))
        make_data(items, folder / "cot.jsonl", teacher, "google_genai:gemini-2.5-pro",
                  requests_per_minute=6000, store=OnlineStore(folder / "t.sqlite"))
        sent.append([r.json()["contents"] for r in server.requests[before:]])
    assert sent[0] == sent[1]


def test_a_leaking_prompt_is_refused(regions, tmp_path):
    data = labelled_set(tmp_path / "set", scenes=1)
    item = load_dataset(data, regions)[0]
    check_label_free("a sign reads 杭州市西湖区", item)  # place names may come from the image
    with pytest.raises(AssertionError, match="330106"):
        check_label_free("district 330106", item)
    with pytest.raises(AssertionError, match=r"shop\.jpg"):
        check_label_free("file shop.jpg", item)


def test_make_data_cli(tmp_path, monkeypatch, server, capsys):
    from sinoloc.app.cli.main import main

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    monkeypatch.setenv("SINOLOC_ONLINE_DB", str(tmp_path / "cache.sqlite"))
    data = labelled_set(tmp_path / "set", scenes=1)
    server.reply(200, recorded("cot_good")).reply(200, recorded("cot_far"))
    code = main(["sft", "make-data", str(data), "--teacher", "google_genai:gemini-2.5-pro",
                 "--base-url", server.url, "--out", str(tmp_path / "cot.jsonl"), "--rpm", "6000"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["written"] == 2 and summary["kept"] == 2
    assert main(["sft", "make-data", str(data), "--teacher", "none", "--out",
                 str(tmp_path / "x.jsonl")]) == 2


def test_parse_teacher():
    text = 'Reasoning here.\nANSWER: {"province": "浙江省", "lat": 30.1, "lon": 120.2}'
    explanation, answer, problem = parse_teacher(text)
    assert explanation == "Reasoning here." and answer.province == "浙江省" and not problem
    assert parse_teacher("ANSWER: {not json}")[2].startswith("invalid ANSWER")
    assert parse_teacher('ANSWER: {"province": "x", "lat": 200, "lon": 0}')[2] \
        == "invalid ANSWER: ValidationError"


# ------------------------------------------------------------------ training
def records_for(folder: Path, points) -> list[CotRecord]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (lat, lon) in enumerate(points):
        path = folder / f"img{i}.jpg"
        street_scene(320, 240, seed=i + 3).save(path)
        out.append(CotRecord(
            id=f"r{i}", image=str(path), image_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            student_prompt="Locate this photo (320x240 pixels). OCR: 杭州市西湖区 (E1)",
            teacher="t", explanation="The sign reads 杭州市西湖区 (E1): 浙江省杭州市西湖区.",
            answer=TeacherAnswer(province="浙江省", city="杭州市", district="西湖区", lat=lat,
                                 lon=lon), kept=True, lat=lat, lon=lon))
    return out


def test_split_by_location_keeps_places_together():
    near = [CotRecord(id=f"a{i}", image="x", image_sha256="0", student_prompt="", teacher="t",
                      lat=30.27 + i * 0.001, lon=120.13, kept=True) for i in range(5)]
    far = [CotRecord(id=f"b{i}", image="x", image_sha256="0", student_prompt="", teacher="t",
                     lat=20 + i * 3, lon=100 + i * 3, kept=True) for i in range(12)]
    train_set, val_set = split_by_location(near + far, 0.5, 0.3, seed=0)
    assert train_set and val_set and len(train_set) + len(val_set) == 17
    near_ids = {r.id for r in near}
    assert near_ids <= {r.id for r in train_set} or near_ids <= {r.id for r in val_set}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from tiny_qwen import save_tiny_qwen

    return save_tiny_qwen(tmp_path_factory.mktemp("sft") / "base", "qwen2_vl")


@pytest.mark.slow
def test_lora_training_loss_falls_resumes_and_answers(tiny_base, tmp_path):
    records = records_for(tmp_path / "images", [(30.27, 120.13), (31.2, 121.5),
                                                (39.9, 116.4), (23.1, 113.3)])
    out = tmp_path / "lora"
    # A random tiny model's logits are too small for adapters alone to move the loss much in a
    # few steps, so the test also trains lm_head (modules_to_save); real runs need not.
    config = TrainConfig(base=str(tiny_base), out=str(out), epochs=2, learning_rate=1e-2,
                         grad_accum=1, lora_r=8, lora_alpha=16, val_fraction=0.25,
                         max_pixels=112 * 112, modules_to_save=["lm_head"], device="cpu")
    logs = train(records, config, system_prompt="You are sinoloc.")
    assert [log.epoch for log in logs] == [1, 2]
    state = json.loads((out / "train_state.json").read_text())
    assert state["train"] + state["val"] == 4 and state["val"] >= 1
    assert logs[1].val_loss is not None
    resumed = train(records, config.model_copy(update={"epochs": 4}), resume=True,
                    system_prompt="You are sinoloc.")
    assert [log.epoch for log in resumed] == [1, 2, 3, 4]
    assert resumed[:2] == logs  # the first two epochs were not run again
    assert resumed[-1].train_loss < resumed[0].train_loss - 0.5  # the loss falls
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (out / name).is_file() and (out / "checkpoint-4" / name).is_file()
    with pytest.raises(ValueError, match="same settings"):
        train(records, config.model_copy(update={"learning_rate": 1.0}), resume=True)
    # the adapter loads in the local backend and answers through the graph
    from sinoloc.agent.api import Geolocator

    p = Geolocator(llm=f"local:{tiny_base}+{out}").locate(records[0].image, max_model_calls=3)
    assert p.backend == "local:base+lora" and p.province


def test_train_cli_without_the_local_extra_says_how_to_get_it(monkeypatch, capsys, tmp_path):
    import sys

    from sinoloc.app.cli.main import main

    monkeypatch.setitem(sys.modules, "peft", None)  # as if sinoloc[local] were not installed
    code = main(["sft", "train", str(tmp_path / "cot.jsonl"), "--base", "b", "--out", "o"])
    assert code == 2 and "pip install '.[local]'" in capsys.readouterr().err
