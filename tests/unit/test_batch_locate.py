"""``sinoloc locate`` over many images: inputs, the engine, resumable output, exit codes, and
argument errors reported before any heavy import."""

import argparse
import json

import pytest

from sinoloc.agent.batch import (
    BatchInputError,
    RowSink,
    expand_inputs,
    finished_images,
    locate_many,
)
from sinoloc.app.cli import locate as locate_cli
from sinoloc.tools.images import ImageInputError


class FakePrediction:
    """Stands in for a GeoPrediction in the engine's tests (the engine only dumps it)."""

    def __init__(self, name: str):
        self.name = name

    def model_dump(self, mode="json"):
        return {"province": "浙江省", "city": "杭州市", "district": self.name,
                "district_adcode": "330106", "lat": 30.27, "lon": 120.12,
                "confidence": {"province": 0.9, "city": 0.8, "district": 0.5}}


def fake_locate(path):
    if path.name.startswith("bad"):
        raise ImageInputError(f"{path}: not an image file sinoloc can read")
    if path.name.startswith("crash"):
        raise RuntimeError("a tool fell over")
    return FakePrediction(path.stem)


def _files(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return [folder / n for n in names]


def test_row_key_is_not_a_geoprediction_field():
    from sinoloc.agent.batch import ROW_KEY
    from sinoloc.agent.schemas import GeoPrediction

    assert ROW_KEY not in GeoPrediction.model_fields and "error" not in GeoPrediction.model_fields


def test_expand_inputs_files_folders_globs_in_order_each_once(tmp_path):
    a, = _files(tmp_path, ["a.jpg"])
    _files(tmp_path / "pics" / "deep", ["c.png", "notes.txt"])
    _files(tmp_path / "pics", ["b.JPG"])
    found = expand_inputs([str(a), str(tmp_path / "pics"), str(tmp_path / "*.jpg")])
    assert [p.name for p in found] == ["a.jpg", "b.JPG", "c.png"]  # a.jpg once; .txt left out


@pytest.mark.parametrize("spec, why", [("missing.jpg", "no such file or folder"),
                                       ("*.webp", "no file matches"),
                                       ("empty", "no image file in this folder")])
def test_expand_inputs_names_what_matches_nothing(tmp_path, monkeypatch, spec, why):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match=why):
        expand_inputs([spec])


@pytest.mark.parametrize("workers", [1, 3])
def test_engine_keeps_order_and_makes_a_bad_file_its_own_row(tmp_path, workers):
    paths = _files(tmp_path, ["a.jpg", "bad.jpg", "b.jpg", "crash.jpg", "c.jpg", "d.jpg"])
    rows = list(locate_many(paths, fake_locate, workers=workers))
    assert [r.file for r in rows] == [str(p) for p in paths]
    assert [r.ok for r in rows] == [True, False, True, False, True, True]
    assert "not an image file" in rows[1].error
    assert rows[3].error == "RuntimeError: a tool fell over"
    assert rows[0].prediction["district"] == "a"


def test_rows_written_are_read_back_and_a_torn_last_line_is_cut(tmp_path):
    out = tmp_path / "rows.jsonl"
    paths = _files(tmp_path, ["a.jpg", "bad.jpg"])
    with out.open("w", encoding="utf-8") as f:
        sink = RowSink(f, "jsonl")
        for row in locate_many(paths, fake_locate):
            sink.write(row)
        f.write('{"file": "torn')  # killed while writing the next row
    done = finished_images(out, "jsonl")
    assert done == {str(paths[0].resolve()): True, str(paths[1].resolve()): False}
    assert out.read_text(encoding="utf-8").endswith("}\n")  # the torn line is gone
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["file"] == str(paths[0]) and first["district"] == "a"


def _batch_args(out, **over):
    base = dict(out=str(out), csv=False, json=False, progress=False, workers=1)
    return argparse.Namespace(**{**base, **over})


class InterruptAfter:
    """A locate that is interrupted (Ctrl-C) when it reaches the n-th image."""

    def __init__(self, n):
        self.n, self.calls = n, []

    def __call__(self, path):
        self.calls.append(path.name)
        if len(self.calls) == self.n:
            raise KeyboardInterrupt
        return fake_locate(path)


@pytest.mark.parametrize("fmt", ["rows.jsonl", "rows.csv"])
def test_kill_and_resume_locates_every_image_once(tmp_path, capsys, fmt):
    paths = _files(tmp_path / "in", [f"{i}.jpg" for i in range(6)] + ["bad.jpg"])
    out = tmp_path / fmt
    first = InterruptAfter(4)
    assert locate_cli._locate_batch(_batch_args(out), paths, first) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    second = InterruptAfter(0)  # never interrupts
    assert locate_cli._locate_batch(_batch_args(out), paths, second) == 2  # bad.jpg failed
    assert first.calls == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert second.calls == ["3.jpg", "4.jpg", "5.jpg", "bad.jpg"]
    third = InterruptAfter(0)
    assert locate_cli._locate_batch(_batch_args(out), paths, third) == 2  # the failed row still counts
    assert third.calls == []
    lines = out.read_text(encoding="utf-8").splitlines()
    if fmt.endswith(".csv"):
        assert lines[0].startswith("file,status,") and lines.count(lines[0]) == 1
        lines = lines[1:]
        images = [line.split(",")[0] for line in lines]
    else:
        images = [json.loads(line)["file"] for line in lines]
    assert sorted(images) == sorted(str(p) for p in paths)  # every image exactly once
