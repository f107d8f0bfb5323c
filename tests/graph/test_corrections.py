"""Corrections kept: ``sinoloc chat`` with ``/review on`` (approve, a refused edit, a clue) and
``/truth``; the correction stored with the image's hash and the run's evidence, listed by
``sinoloc knowledge corrections``, promoted by ``sinoloc knowledge promote`` into a user
knowledge entry (provenance "user correction") that a later run on a similar sign retrieves; the
corrections file validated when it is read."""

import io
import json
import sys

import pytest
from imaging import hangzhou_shop, unplaced_sign

from sinoloc.agent.api import Geolocator
from sinoloc.app.cli.main import main


@pytest.fixture
def files(tmp_path, monkeypatch):
    """The user's corrections and promoted knowledge live in this test's folder."""
    corrections, knowledge = tmp_path / "corrections.jsonl", tmp_path / "user_knowledge.csv"
    monkeypatch.setenv("SINOLOC_CORRECTIONS", str(corrections))
    monkeypatch.setenv("SINOLOC_USER_KNOWLEDGE", str(knowledge))
    return corrections, knowledge


def chat(monkeypatch, capsys, db, lines: list[str]) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    assert main(["chat", "--db", str(db)]) == 0
    return capsys.readouterr().out


def test_chat_review_commands(monkeypatch, capsys, tmp_path, files):
    shop = tmp_path / "shop.jpg"
    hangzhou_shop(shop)
    out = chat(monkeypatch, capsys, tmp_path / "t.sqlite", [
        "/approve", "/review on", str(shop), "/edit 江苏省苏州市姑苏区", "/edit", "/clue 江苏省苏州市",
        "/approve", "/approve", "/review off", "/review"])
    assert "cannot approve: nothing waits for review" in out  # before any image
    assert "review on: each new image stops" in out
    assert "? for review: 浙江省杭州市西湖区" in out
    assert out.index("? for review") < out.index("● 浙江省杭州市西湖区")  # committed after /approve
    assert "did not pass verification" in out  # the edit outside the evidence, with the reasons
    assert "cannot edit: edit needs place" in out
    assert "your clue E4 (江苏省苏州市) contradicts evidence at least as strong" in out
    assert out.count("● 浙江省杭州市西湖区") == 1  # one commit: the clue did not move it
    assert "cannot approve: nothing waits" in out.split("● 浙江省杭州市西湖区")[1]
    assert "review off" in out and "review is off" in out


def test_chat_review_option_starts_with_review_on_and_says_so_in_the_resume_hint(
        monkeypatch, capsys, tmp_path, files):
    shop = tmp_path / "shop.jpg"
    hangzhou_shop(shop)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{shop}\n/approve\n/review\n"))
    assert main(["chat", "--db", str(tmp_path / "t.sqlite"), "--review"]) == 0
    out = capsys.readouterr().out
    assert out.index("? for review: 浙江省杭州市西湖区") < out.index("● 浙江省杭州市西湖区")
    assert "review is on" in out
    first_line = out.splitlines()[0]
    assert first_line.startswith("thread ") and " --review`" in first_line


def test_truth_stored_listed_promoted_and_retrieved_on_a_similar_sign(
        monkeypatch, capsys, tmp_path, files):
    corrections, knowledge = files
    first = unplaced_sign(tmp_path / "noodles.jpg")
    before = Geolocator().locate(first)
    assert before.basis == "prior_only" and before.city != "苏州市"

    out = chat(monkeypatch, capsys, tmp_path / "t.sqlite", [
        str(first), "/truth", "/truth 火星", "/truth 江苏省苏州市姑苏区"])
    assert "usage: /truth PLACE" in out and "cannot keep that" in out
    kept = json.loads(corrections.read_text(encoding="utf-8").splitlines()[0])
    assert kept["truth"] == "江苏省苏州市姑苏区" and kept["truth_adcode"] == "320508"
    assert kept["image_sha256"] == before.image.sha256 and kept["surface"] == "chat"
    assert "老王记牛肉面" in kept["texts"] and kept["predicted"]
    assert f"kept: this photo is in 江苏省苏州市姑苏区 ({kept['id']})" in out

    assert main(["knowledge", "corrections"]) == 0
    listed = capsys.readouterr().out
    assert kept["id"] in listed and "江苏省苏州市姑苏区" in listed and "老王记牛肉面" in listed

    assert main(["knowledge", "promote", kept["id"]]) == 0
    promoted = capsys.readouterr().out
    assert "sign text '老王记牛肉面'" in promoted
    entry_id = f"user-correction-{kept['image_sha256'][:10]}-1"
    assert main(["knowledge", "show", entry_id, "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["source"].startswith("user correction " + kept["id"])
    assert entry["patterns"] == ["老王记牛肉面"] and entry["region_names"] == ["江苏省苏州市姑苏区"]
    assert main(["knowledge", "promote", kept["id"]]) == 2  # once only
    assert "already promoted" in capsys.readouterr().err
    assert main(["knowledge", "corrections"]) == 0 and f"→ [{entry_id}]" in capsys.readouterr().out

    # a later run on a similar sign (another street, another layout, more text) retrieves it
    later = unplaced_sign(tmp_path / "branch.jpg", lines=("老王记牛肉面", "新店开业 八折"), seed=9,
                          xy=(400, 260), bg=(150, 30, 30))
    after = Geolocator().locate(later)
    used = [e for e in after.evidence if e.knowledge_id == entry_id]
    assert used and used[0].kind.value == "knowledge"
    assert (after.city, after.district) == ("苏州市", "姑苏区") and after.basis == "evidence"
    assert main(["knowledge", "search", "老王记牛肉面", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == entry_id
    assert knowledge.read_text(encoding="utf-8").startswith("id,kind,clue_zh")


def test_the_corrections_file_is_validated_when_read(capsys, files):
    corrections, _ = files
    good = {"id": "c-0123456789-1", "image_sha256": "0" * 64, "truth": "江苏省苏州市",
            "truth_adcode": "320500", "truth_level": "city", "at": 1.0}
    corrections.write_text(json.dumps(good) + "\nnot json\n", encoding="utf-8")
    assert main(["knowledge", "corrections"]) == 2
    assert f"{corrections}:2:" in capsys.readouterr().err
    corrections.write_text(json.dumps({**good, "truth_adcode": "999999"}) + "\n", encoding="utf-8")
    assert main(["knowledge", "corrections"]) == 2
    assert "unknown adcode 999999" in capsys.readouterr().err
    corrections.write_text(json.dumps({**good, "image_sha256": "xyz"}) + "\n", encoding="utf-8")
    assert main(["knowledge", "corrections"]) == 2
    assert "image_sha256" in capsys.readouterr().err
    corrections.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert main(["knowledge", "corrections"]) == 0 and "c-0123456789-1" in capsys.readouterr().out
    assert main(["knowledge", "promote", "c-0123456789-1"]) == 2  # no text read in that photo
    assert "--pattern" in capsys.readouterr().err
