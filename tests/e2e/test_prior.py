"""The visual prior end to end on a tiny random backbone and a synthetic set rendered here:
training (loss falls, validation beats chance, the levels agree, resume), the checkpoint (save
→ load gives identical outputs), zero-shot CLIP, the cnn_prior tool in the graph, the CLI and
the eval baseline."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prior_data import render_dataset, save_tiny_clip, save_tiny_resnet

from sinoloc.app.cli.main import main
from sinoloc.tools.prior import PriorUnavailable
from sinoloc.tools.prior.train import TrainingError, TrainOptions, train

FROZEN = dict(epochs=30, lr=1e-2, image_size=32, batch_size=16)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, regions):
    root = tmp_path_factory.mktemp("prior")
    data, chosen = render_dataset(root / "data", regions, per_district=8)
    return {"root": root, "data": data, "chosen": chosen,
            "backbone": save_tiny_resnet(root / "resnet")}


@pytest.fixture(scope="module")
def trained(workspace):
    out = workspace["root"] / "frozen"
    lines: list[str] = []
    report = train(TrainOptions(data=workspace["data"], backbone=str(workspace["backbone"]),
                                out=out, **FROZEN), echo=lines.append)
    return {"out": out, "report": report, "lines": lines}


def _subset_csv(source: Path, ids: list[str], target: Path) -> Path:
    rows = [{**r, "image": str(source.parent / r["image"])}
            for r in csv.DictReader(source.open(encoding="utf-8"))
            if Path(r["image"]).stem in set(ids)]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "lat", "lon"])
        writer.writeheader()
        writer.writerows(rows)
    return target


# ---------------------------------------------------------------- training
def test_training_loss_falls_and_validation_beats_chance(trained):
    report = trained["report"]
    history = report.history
    assert len(history) == 30
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert min(h["validation_nll"] for h in history) < history[0]["validation_nll"]
    assert report.label_space == {"provinces": 3, "cities": 6, "districts": 12}
    metrics = report.metrics
    assert metrics.images == report.validation_images > 0
    assert metrics.province.top1 > 0.5  # chance: 1/3
    assert metrics.district.top1 > 0.25  # chance: 1/12
    assert metrics.nll < math.log(12)  # better than a uniform guess over the districts
    assert metrics.within_km["2500"] == 1.0
    assert 0 < report.temperature < 20
    assert any("validation NLL" in line for line in trained["lines"])
    assert "top-1" in metrics.table()


def test_split_keeps_locations_apart_and_is_saved(trained, workspace, regions):
    split = json.loads((trained["out"] / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 96
    rows = {Path(r["image"]).stem: r for r in csv.DictReader(workspace["data"].open())}
    from sinoloc.tools.regions import haversine_km

    closest = min(haversine_km(float(rows[a]["lon"]), float(rows[a]["lat"]),
                               float(rows[b]["lon"]), float(rows[b]["lat"]))
                  for a in split["train"] for b in split["validation"])
    assert closest >= split["gap_km"]


def test_checkpoint_files_and_config(trained, regions):
    from sinoloc.tools.prior.checkpoint import read_checkpoint

    out = trained["out"]
    assert {"prior.json", "heads.safetensors", "train_state.pt", "features.pt",
            "split.json"} <= {p.name for p in out.iterdir()}
    assert not (out / "backbone").exists()  # frozen: the original backbone is referenced
    config = read_checkpoint(out)
    assert config.mode == "trained" and not config.backbone_finetuned
    assert Path(config.backbone).is_absolute()
    assert config.preprocessing.size == 32
    assert config.labels.sizes == (3, 6, 12)
    assert config.temperature == trained["report"].temperature
    assert config.metrics["province"]["top1"] == trained["report"].metrics.province.top1
    assert config.region_data == regions.data_version
    assert config.training["best_epoch"] >= 1


def test_save_then_load_gives_identical_outputs(trained, workspace, tmp_path):
    from sinoloc.tools.prior.evaluate import evaluate_checkpoint
    from sinoloc.tools.prior.inference import PriorPredictor

    out = trained["out"]
    first, second = PriorPredictor(out), PriorPredictor(out)
    image = next((workspace["data"].parent).glob("*.png"))
    a, b = first.predict_path(image), second.predict_path(image)
    assert a == b
    arrays = [first.config.preprocessing.array(
        __import__("PIL.Image", fromlist=["Image"]).open(image))]
    assert np.array_equal(first.log_joint(arrays), second.log_joint(arrays))
    # the loaded checkpoint scores the held-out images exactly as the trainer did in memory
    split = json.loads((out / "split.json").read_text())
    held_out = _subset_csv(workspace["data"], split["validation"], tmp_path / "val.csv")
    report = evaluate_checkpoint(out, held_out, echo=lambda line: None)
    assert report.images == trained["report"].validation_images
    mine, theirs = report.metrics.model_dump(), trained["report"].metrics.model_dump()
    assert mine.pop("nll") == pytest.approx(theirs.pop("nll"), rel=1e-6)
    assert mine["mean_km"] == pytest.approx(theirs.pop("mean_km"), rel=1e-9)
    mine.pop("mean_km")
    assert mine == theirs


def test_every_prediction_is_hierarchically_consistent(trained, workspace, regions):
    from sinoloc.tools.prior.inference import PriorPredictor

    predictor = PriorPredictor(trained["out"])
    space = predictor.config.labels
    for image in sorted(workspace["data"].parent.glob("*.png"))[::4]:
        result = predictor.predict_path(image, k=12)
        province, city, district = (regions.get(r.adcode, r.level) for r in result.decoded)
        assert city.province_adcode == province.adcode
        assert district.city_adcode == city.adcode
        assert result.provinces[0].adcode == province.adcode
        for p in result.provinces:
            cities = sum(c.probability for c in result.cities
                         if regions.get(c.adcode, "city").province_adcode == p.adcode)
            assert cities == pytest.approx(p.probability, abs=1e-5)
        assert 0.995 - 1e-5 <= sum(result.district_probs.values()) <= 1.0 + 1e-5
        assert set(result.district_probs) <= set(space.districts)


def test_resume_continues_and_refuses_a_changed_run(workspace, tmp_path):
    out = tmp_path / "resumable"
    options = dict(data=workspace["data"], backbone=str(workspace["backbone"]), out=out,
                   image_size=32, batch_size=16, lr=1e-2)
    first = train(TrainOptions(epochs=2, **options), echo=lambda line: None)
    with pytest.raises(TrainingError, match="--resume"):
        train(TrainOptions(epochs=3, **options), echo=lambda line: None)
    with pytest.raises(TrainingError, match="lr differ"):
        train(TrainOptions(epochs=3, resume=True, **{**options, "lr": 0.5}),
              echo=lambda line: None)
    lines: list[str] = []
    resumed = train(TrainOptions(epochs=3, resume=True, **options), echo=lines.append)
    assert any("resuming" in line and "after epoch 2" in line for line in lines)
    assert len(resumed.history) == 3
    assert resumed.history[:2] == first.history
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "train_state.pt").write_bytes(b"\x80\x04 truncated")
    with pytest.raises(TrainingError, match="cannot be read"):
        train(TrainOptions(epochs=3, resume=True, **{**options, "out": tmp_path / "broken"}),
              echo=lambda line: None)
    # an uninterrupted three-epoch run ends in the same place (epochs are reproducible)
    straight = train(TrainOptions(epochs=3, **{**options, "out": tmp_path / "straight"}),
                     echo=lambda line: None)
    assert straight.history[2]["validation_nll"] == pytest.approx(
        resumed.history[2]["validation_nll"], rel=1e-5)


@pytest.mark.slow
def test_finetuned_backbone_is_saved_in_the_checkpoint(workspace, tmp_path, regions):
    from sinoloc.tools.prior.inference import PriorPredictor

    data, _ = render_dataset(tmp_path / "pano", regions, per_district=5, seed=3, panoramas=1)
    out = tmp_path / "finetuned"
    report = train(TrainOptions(data=data, backbone=str(workspace["backbone"]), out=out,
                                epochs=6, lr=1e-2, backbone_lr=1e-2, finetune=True,
                                image_size=32, batch_size=8), echo=lambda line: None)
    assert (out / "backbone" / "model.safetensors").is_file()
    assert report.history[-1]["train_loss"] < report.history[0]["train_loss"]
    assert report.metrics.province.top1 > 0.5
    predictor = PriorPredictor(out)
    assert predictor.config.backbone_finetuned
    panorama = next(p for p in (tmp_path / "pano").glob("*_0.png"))
    assert predictor.predict_path(panorama).views == 4


def test_clip_backbone_trains_on_its_image_embeddings(workspace, tmp_path):
    from sinoloc.tools.prior.checkpoint import read_checkpoint

    clip = save_tiny_clip(tmp_path / "clip", ["a street view photo"] * 5)
    out = tmp_path / "clip-heads"
    train(TrainOptions(data=workspace["data"], backbone=str(clip), out=out, epochs=2,
                       batch_size=16), echo=lambda line: None)
    config = read_checkpoint(out)
    assert config.feature_kind == "clip_embeds" and config.feature_dim == 16
    assert config.preprocessing.size == 32  # read from the CLIP's preprocessor_config.json


def test_training_refuses_bad_input(workspace, tmp_path):
    options = dict(backbone=str(workspace["backbone"]), image_size=32)
    empty = tmp_path / "empty.csv"
    empty.write_text("image,lat,lon\n")
    with pytest.raises(TrainingError, match="no rows"):
        train(TrainOptions(data=empty, out=tmp_path / "a", **options), echo=lambda line: None)
    few = _subset_csv(workspace["data"], ["330106_0", "330106_1"], tmp_path / "few.csv")
    (tmp_path / "330106_0.png").write_bytes((workspace["data"].parent / "330106_0.png")
                                            .read_bytes())
    (tmp_path / "330106_1.png").write_bytes(b"not an image")
    with pytest.raises(TrainingError, match="at least 4"):
        train(TrainOptions(data=few, out=tmp_path / "b", **options), echo=lambda line: None)


# ---------------------------------------------------------------- loading
def test_unloadable_backbones_say_what_to_do(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from sinoloc.tools.prior.model import load_backbone

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PriorUnavailable, match=r"neither a local model directory.*`hf "
                                               r"download sinoloc-test/no-such-model"):
        load_backbone("sinoloc-test/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PriorUnavailable, match=r"no config\.json"):
        load_backbone(str(tmp_path / "empty"))


def test_broken_checkpoints_are_reported(trained, tmp_path):
    import shutil

    from sinoloc.tools.prior.inference import PriorPredictor

    with pytest.raises(PriorUnavailable, match="no such directory"):
        PriorPredictor(tmp_path / "missing")
    (tmp_path / "notone").mkdir()
    with pytest.raises(PriorUnavailable, match=r"no prior\.json"):
        PriorPredictor(tmp_path / "notone")
    copy = tmp_path / "copy"
    shutil.copytree(trained["out"], copy)
    (copy / "prior.json").write_text("{\"format\": \"something else\"}")
    with pytest.raises(PriorUnavailable, match="not a valid"):
        PriorPredictor(copy)
    shutil.copy(trained["out"] / "prior.json", copy / "prior.json")
    (copy / "heads.safetensors").write_bytes(b"garbage")
    with pytest.raises(PriorUnavailable, match="cannot be read"):
        PriorPredictor(copy)


# ---------------------------------------------------------------- zero-shot
@pytest.fixture(scope="module")
def zero_shot(tmp_path_factory, regions):
    from sinoloc.tools.prior.labels import LabelSpace
    from sinoloc.tools.prior.zero_shot import build_zero_shot, region_prompts

    root = tmp_path_factory.mktemp("zero")
    by_province, by_city = region_prompts(LabelSpace.full(regions), regions)
    clip = save_tiny_clip(root / "clip", [p for group in by_province + by_city for p in group])
    out = root / "prior"
    build_zero_shot(str(clip), out)
    return {"clip": clip, "out": out}


def test_zero_shot_prior_runs_end_to_end(zero_shot, regions, tmp_path):
    from PIL import Image

    from sinoloc.tools.prior.checkpoint import read_checkpoint
    from sinoloc.tools.prior.inference import PriorPredictor

    config = read_checkpoint(zero_shot["out"])
    assert config.mode == "zero_shot" and config.labels.sizes == (34, 370, 2875)
    assert config.fusion_weight == 0.5 and config.feature_kind == "clip_embeds"
    assert config.training["prompts"]["city"][0] == "A street view photo in {province}{city}."
    predictor = PriorPredictor(zero_shot["out"])
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (90, 120, 30)).save(photo)
    result = predictor.predict_path(photo)
    assert len(result.provinces) == 5 and result.views == 1
    province, city, district = (regions.get(r.adcode, r.level) for r in result.decoded)
    assert city.province_adcode == province.adcode and district.city_adcode == city.adcode
    # districts are uniform within a city: CLIP is asked about provinces and cities only
    siblings = [result.district_probs.get(d.adcode) for d in regions.children(city)]
    assert len({round(p, 6) for p in siblings if p is not None}) <= 1
    panorama = tmp_path / "pano.jpg"
    Image.new("RGB", (1000, 500), (40, 40, 200)).save(panorama)
    assert predictor.predict_path(panorama).views == 4


def test_zero_shot_needs_a_clip(workspace, tmp_path):
    from sinoloc.tools.prior.zero_shot import build_zero_shot

    with pytest.raises(PriorUnavailable, match="not a CLIP model"):
        build_zero_shot(str(workspace["backbone"]), tmp_path / "z")


def test_calibrating_a_zero_shot_prior_writes_its_temperature(zero_shot, workspace, tmp_path):
    import shutil

    from sinoloc.tools.prior.checkpoint import read_checkpoint
    from sinoloc.tools.prior.evaluate import evaluate_checkpoint

    copy = tmp_path / "zs"
    shutil.copytree(zero_shot["out"], copy)
    report = evaluate_checkpoint(copy, workspace["data"], calibrate=True, echo=lambda s: None)
    assert report.images == 96 and report.calibrated
    config = read_checkpoint(copy)
    assert config.temperature == report.temperature and config.fusion_weight == 1.0
    assert config.metrics["calibration"]["images"] == 96


# ---------------------------------------------------------------- graph, CLI, eval
def test_prior_alone_decides_and_text_overrules_it(trained, workspace, tmp_path):
    from sinoloc.agent.api import Geolocator
    from sinoloc.tools.prior.inference import get_predictor

    image = workspace["data"].parent / "330106_3.png"
    expected = get_predictor(trained["out"]).predict_path(image)
    p = Geolocator().locate(image, prior=str(trained["out"]))
    prior_items = [e for e in p.evidence if e.kind.value == "prior"]
    assert len(prior_items) == 1 and prior_items[0].id == "E1"
    assert prior_items[0].text.startswith("visual prior: " + expected.provinces[0].name)
    assert p.basis == "prior_only"
    assert any("visual prior alone" in w for w in p.warnings)
    assert p.province_candidates[0].adcode == expected.provinces[0].adcode
    assert p.province_candidates[0].probability == pytest.approx(
        expected.provinces[0].probability, abs=2e-3)
    assert p.locatability.components["prior"] == pytest.approx(
        expected.provinces[0].probability, abs=1e-3)

    # the demo photo's sign (杭州 address, phone) outweighs a prior that points elsewhere
    from sinoloc.app.cli.common import demo_image

    demo = Geolocator().locate(demo_image(), prior=str(trained["out"]))
    assert demo.district == "西湖区" and demo.basis == "evidence"
    assert any(e.kind.value == "prior" for e in demo.evidence)


def test_locate_cli_shows_the_priors_top_provinces(trained, workspace, capsys):
    from sinoloc.tools.prior.inference import get_predictor

    image = workspace["data"].parent / "440111_2.png"
    top = get_predictor(trained["out"]).predict_path(image).provinces[:3]
    assert main(["locate", str(image), "--prior", str(trained["out"])]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "«visual prior:" in x)
    for region in top:
        assert f"{region.name} {region.probability:.0%}" in line
    assert "cnn_prior() ok → E1" in out


def test_locate_with_a_missing_prior_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A prior asked for by name (--prior or $SINOLOC_PRIOR_CHECKPOINT) that cannot load is one
    line and exit 2, not a run that quietly goes on without it (it used to exit 0)."""
    from sinoloc.app.cli.common import demo_image

    assert main(["locate", str(demo_image()), "--prior", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no such directory" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    monkeypatch.setenv("SINOLOC_PRIOR_CHECKPOINT", str(tmp_path / "nowhere"))
    assert main(["locate", str(demo_image()), "--json"]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_prior_cli_train_predict_evaluate(workspace, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["prior", "train", str(workspace["data"]), "--backbone",
                 str(workspace["backbone"]), "--out", str(out), "--epochs", "2",
                 "--image-size", "32", "--no-progress"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["checkpoint"] == str(out) and report["epochs"] == 2
    assert "epoch 2/2" in captured.err and "--prior" in captured.err
    assert main(["prior", "train", str(workspace["data"]), "--backbone",
                 str(workspace["backbone"]), "--out", str(out), "--image-size", "32"]) == 2
    assert "--resume" in capsys.readouterr().err
    image = workspace["data"].parent / "510112_1.png"
    assert main(["prior", "predict", str(out), str(image)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("province") and lines[-1].startswith("decoded")
    assert main(["prior", "evaluate", str(out), str(workspace["data"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 96
    assert main(["prior", "predict", str(tmp_path / "nothing"), str(image)]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_eval_runs_the_prior_alone_as_a_baseline(trained, workspace, tmp_path, capsys):
    split = json.loads((trained["out"] / "split.json").read_text())
    held_out = _subset_csv(workspace["data"], split["validation"][:6], tmp_path / "v.csv")
    run = tmp_path / "run"
    assert main(["eval", "run", str(held_out), "--out", str(run), "--baseline", "prior",
                 "--prior", str(trained["out"]), "--workers", "0", "--no-progress"]) == 0
    capsys.readouterr()
    config = json.loads((run / "run.json").read_text())["config"]
    assert config["prior"] == str(trained["out"].resolve()) and len(config["prior_id"]) == 16
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    from sinoloc.tools.prior.inference import get_predictor

    predictor = get_predictor(trained["out"])
    for row in rows:
        prediction = row["prediction"]
        assert [t["tool"] for t in prediction["tool_calls"]] == ["cnn_prior", "ocr",
                                                                  "lookup_clues"]
        assert prediction["tool_calls"][1]["status"] == "unavailable"  # switched off
        image = workspace["data"].parent / f"{row['id']}.png"
        distribution, _ = predictor.distribution(
            __import__("PIL.Image", fromlist=["Image"]).open(image).convert("RGB"), False)
        from sinoloc.tools.prior.metrics import prior_point

        lat, lon = prior_point(distribution, predictor.index)
        assert (prediction["lat"], prediction["lon"]) == pytest.approx((lat, lon), abs=1e-5)
    assert main(["eval", "run", str(held_out), "--out", str(tmp_path / "r2"), "--baseline",
                 "prior", "--prior", str(tmp_path / "missing"), "--workers", "0"]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["eval", "run", str(held_out), "--out", str(tmp_path / "r3"), "--baseline",
                 "prior", "--workers", "0", "--limit", "1", "--no-progress"]) == 0
    assert "runs the uniform prior" in capsys.readouterr().err

