"""Replayable runs (agent/records): a run recorded with a scripted model served over HTTP on
loopback replays with the server gone and the network cut, prediction for prediction; a changed
verification threshold shows up as divergences naming the images, steps and why; ``eval show``
prints an image's recorded steps; records are validated."""

from __future__ import annotations

import json
import shutil

import pytest
from eval_data import labelled_set
from replay_runs import eval_run, recorded_run, rows
from socket_guard import SocketGuard

from sinoloc.agent.reasoning import checks
from sinoloc.agent.records import RecordError, load_record
from sinoloc.app.cli.main import main
from sinoloc.eval.replay_compare import without_timings

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A small rendered set, recorded once with the scripted model over HTTP."""
    folder = tmp_path_factory.mktemp("replay")
    data = labelled_set(folder / "set", scenes=3)
    run = folder / "recorded"
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "test-key-not-real")
    try:
        code, requests = recorded_run(main, data, run)
    finally:
        mp.undo()
    assert code == 0
    assert requests > 0
    return data, run


def test_replay_without_a_server_or_network_gives_identical_predictions(recorded, tmp_path,
                                                                        monkeypatch):
    data, run = recorded
    guard = SocketGuard(monkeypatch)
    assert eval_run(main, data, tmp_path / "replayed", "--replay", str(run)) == 0
    before, after = rows(run), rows(tmp_path / "replayed")
    assert set(before) == set(after) and all(r["status"] == "ok" for r in after.values())
    for image, row in before.items():
        assert without_timings(after[image]["prediction"]) == without_timings(row["prediction"])
        assert after[image]["replay"]["misses"] == 0 and after[image]["replay"]["hits"] > 0
        assert after[image]["replay"]["divergence"] is None
    assert guard.attempts == []
    model_steps = [s for i in load_record(run).images.values() for s in i.steps
                   if s.kind == "model"]
    assert model_steps, "the recorded run asked the model"


def test_a_changed_verification_threshold_names_images_steps_and_why(recorded, tmp_path,
                                                                      monkeypatch):
    data, run = recorded
    before = rows(run)
    monkeypatch.setattr(checks, "STRONG_EVIDENCE", 0.95)  # fewer contradictions count
    SocketGuard(monkeypatch)
    assert eval_run(main, data, tmp_path / "changed", "--replay", str(run)) == 0
    after = rows(tmp_path / "changed")
    diverged = {i: r["replay"]["divergence"] for i, r in after.items()
                if r["replay"]["divergence"]}
    # the shop's first answer (a neighbouring district) contradicted its address (weight 0.92):
    # no longer a contradiction that counts, so the verdict and its feedback to the model change
    assert set(diverged) == {"shop"}
    divergence = diverged["shop"]
    assert divergence["kind"] == "verify" and divergence["step"] == 7
    assert divergence["why"].startswith("verification changed its verdict: recorded sent back "
                                        "(claim_not_ruled_out, claims_cite_evidence, "
                                        "no_unexplained_contradiction), now sent back "
                                        "(claim_not_ruled_out, claims_cite_evidence)")
    assert after["shop"]["status"] == "replay_miss"  # the model was asked with other feedback
    assert main(["eval", "compare", str(run), str(tmp_path / "changed"), "--out",
                 str(tmp_path / "cmp"), "--no-plots"]) == 0
    report = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "| changed | 4 | 24 | 1 | 0 | 1 | 1 | 1 |" in report
    assert "- **shop** step 7 [verify]: verification changed its verdict" in report
    for image, row in after.items():
        if image != "shop":
            assert row["status"] == "ok" and row["replay"]["misses"] == 0
            assert without_timings(row["prediction"]) == \
                without_timings(before[image]["prediction"])


@pytest.fixture
def changed_prompt(monkeypatch):
    """The system prompt with one more sentence: every model request differs from the record."""
    from sinoloc.agent.llm import messages

    real = messages.load_prompt
    monkeypatch.setattr(messages, "load_prompt", lambda name: real(name) + (
        "\nPrefer the district named on a sign." if name == "system" else ""))


def test_a_changed_prompt_stops_each_image_at_its_first_model_call(recorded, tmp_path,
                                                                    monkeypatch, changed_prompt):
    data, run = recorded
    guard = SocketGuard(monkeypatch)
    assert eval_run(main, data, tmp_path / "miss", "--replay", str(run)) == 0
    after = rows(tmp_path / "miss")
    assert {r["status"] for r in after.values()} == {"replay_miss"}
    for row in after.values():
        divergence = row["replay"]["divergence"]
        assert row["replay"]["misses"] == 1 and divergence["kind"] == "model"
        assert divergence["why"].startswith("message 0 differs: recorded system «")
        assert "Prefer the district named on a sign." in divergence["why"]
        assert row["prediction"] is None and row["error"].startswith(row["id"])
    assert guard.attempts == []


def test_replay_miss_live_calls_the_model_for_the_rest(recorded, tmp_path, changed_prompt,
                                                       monkeypatch):
    data, run = recorded
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    code, requests = recorded_run(main, data, tmp_path / "live", "--replay", str(run),
                                  "--replay-miss", "live")
    assert code == 0
    after = rows(tmp_path / "live")
    assert {r["status"] for r in after.values()} == {"ok"}
    live = sum(r["replay"]["live_calls"] for r in after.values())
    assert requests > 0 and live >= requests  # tools after the miss run live too
    assert all(r["replay"]["divergence"]["kind"] == "model" for r in after.values())


def test_eval_show_prints_an_images_steps_as_the_chat_does(recorded, capsys):
    _, run = recorded
    assert main(["eval", "show", str(run), "shop"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "  → cnn_prior()"
    assert any(line.startswith("  ← ocr: ok") for line in out)
    assert any(line.startswith("  → lookup_knowledge(") for line in out)
    assert out.index("  ⇒ 浙江省杭州市上城区 (30.291351, 120.21452) confidence 0.6") \
        < next(i for i, line in enumerate(out) if line.startswith("  ✗ sent back (")) \
        < next(i for i, line in enumerate(out) if line.startswith("  ⇒ 浙江省杭州市西湖区")) \
        < out.index("  ✓ accepted")
    assert main(["eval", "show", str(run), "nowhere"]) == 2


def test_a_torn_or_edited_record_is_an_error_naming_file_and_line(recorded, tmp_path):
    _, run = recorded
    copy = tmp_path / "copy"
    shutil.copytree(run / "record", copy)
    steps = copy / "steps.jsonl"
    lines = steps.read_text(encoding="utf-8").splitlines(keepends=True)
    steps.write_text("".join(lines) + lines[1][:20], encoding="utf-8")  # torn
    with pytest.raises(RecordError, match=rf"steps.jsonl:{len(lines) + 1}: torn line"):
        load_record(copy)
    blobs = copy / "blobs.jsonl"
    text = blobs.read_text(encoding="utf-8").splitlines(keepends=True)
    value = json.loads(text[2])
    value["d"] = {"edited": True}
    text[2] = json.dumps(value) + "\n"
    blobs.write_text("".join(text), encoding="utf-8")
    with pytest.raises(RecordError, match=r"blobs.jsonl:3: content does not match its hash"):
        load_record(copy)


def test_records_hold_no_absolute_path_and_no_image(recorded):
    _, run = recorded
    record = load_record(run)  # the validator refuses absolute paths
    raw = (run / "record" / "blobs.jsonl").read_text(encoding="utf-8")
    assert str(run.parent) not in raw and "base64" not in raw
    assert "test-key-not-real" not in raw
    images = [b for b in record.blobs.values() if isinstance(b, dict)
              and isinstance(b.get("content"), list)
              and any(p.get("type") == "image" for p in b["content"] if isinstance(p, dict))]
    assert images and all(set(p) == {"type", "sha256"} for b in images for p in b["content"]
                          if isinstance(p, dict) and p.get("type") == "image")


def test_locate_records_and_replays_one_image(tmp_path, capsys, monkeypatch):
    from imaging import hangzhou_shop, street_scene

    shop = tmp_path / "photos" / "shop.jpg"
    shop.parent.mkdir()
    hangzhou_shop(shop)
    args = ["--offline", "--json"]
    assert main(["locate", str(shop), *args, "--record", str(tmp_path / "rec")]) == 0
    recorded = json.loads(capsys.readouterr().out)
    moved = tmp_path / "elsewhere" / "renamed.jpg"  # found by its content hash
    moved.parent.mkdir()
    shutil.copy(shop, moved)
    guard = SocketGuard(monkeypatch)
    assert main(["locate", str(moved), *args, "--replay", str(tmp_path / "rec")]) == 0
    assert without_timings(json.loads(capsys.readouterr().out)) == without_timings(recorded)
    other = tmp_path / "other.jpg"
    street_scene(320, 240, seed=5).save(other)
    assert main(["locate", str(other), *args, "--replay", str(tmp_path / "rec")]) == 1
    assert "replay miss: other.jpg step 1 [no_record cnn_prior]: the record holds no run of " \
           "this image" in capsys.readouterr().err
    assert guard.attempts == []
    raw = (tmp_path / "rec" / "blobs.jsonl").read_text(encoding="utf-8")
    assert str(tmp_path) not in raw
