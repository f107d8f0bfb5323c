"""``sinoloc locate --engine ray``: the rows of the local engine, in the same order, from actors
with warm locators; a resumed batch locates only the images missing from --out; without Ray the
option says how to install it."""

import json
import os
import sys

import pytest
from imaging import draw_sign, hangzhou_shop, street_scene

from sinoloc.app.cli.main import main


def _images(folder):
    """Three rendered photos with signs in three districts (one per province)."""
    folder.mkdir()
    hangzhou_shop(folder / "a_hangzhou.jpg")
    for name, lines in (("b_chengdu.jpg", ["成都市武侯区人民南路四段18号", "电话028-85556666"]),
                        ("c_wuhan.jpg", ["武汉市洪山区珞喻路129号", "电话027-87889999"])):
        img = street_scene(seed=len(name))
        draw_sign(img, lines, (100, 180), size=46)
        img.save(folder / name, quality=92)
    return sorted(folder.iterdir())


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _districts(rows):
    return [(os.path.basename(r["file"]), r.get("district_adcode"), r.get("error")) for r in rows]


def test_engine_ray_without_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when not installed
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    hangzhou_shop(a)
    b.write_bytes(a.read_bytes())
    assert main(["locate", str(a), str(b), "--engine", "ray", "--offline"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install '.[ray]'" in err, err


def test_ray_options_need_the_ray_engine_and_a_batch(tmp_path, capsys):
    a = tmp_path / "a.jpg"
    hangzhou_shop(a)
    assert main(["locate", str(a), str(a), "--actors", "2"]) == 2
    assert capsys.readouterr().err.strip() == "sinoloc: --actors: only with --engine ray"
    assert main(["locate", str(a), "--engine", "ray"]) == 2
    assert "--engine ray locates a batch" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cluster():
    """One Ray for the module (starting Ray costs seconds), started as the CLI starts its own:
    a local cluster on 127.0.0.1 with usage stats off."""
    from sinoloc.eval.ray_engine import LOOPBACK_ONLY, RayOptions, connect

    os.environ.setdefault(*LOOPBACK_ONLY)  # read when Ray is imported: the cluster binds 127.0.0.1
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[ray]')")
    ray.shutdown()
    connect(RayOptions())
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory):
    """The three images through the local engine (the reference rows)."""
    folder = tmp_path_factory.mktemp("batch")
    images = _images(folder / "in")
    out = folder / "local.jsonl"
    assert main(["locate", str(folder / "in"), "--out", str(out), "--offline"]) == 0
    return images, _rows(out)


@pytest.mark.slow
@pytest.mark.loopback
def test_ray_engine_gives_the_local_rows_in_order(cluster, local_rows, tmp_path, capsys):
    images, local = local_rows
    assert [r["file"] for r in local] == [str(p) for p in images]
    assert all(r.get("district_adcode") for r in local), local  # each image found its district
    out = tmp_path / "ray.jsonl"
    assert main(["locate", *map(str, images), "--out", str(out), "--offline", "--engine", "ray",
                 "--actors", "2", "--ray-address", cluster]) == 0, capsys.readouterr().err
    assert _districts(_rows(out)) == _districts(local)


@pytest.mark.slow
@pytest.mark.loopback
def test_ray_resume_locates_only_the_missing_images(cluster, local_rows, tmp_path, capsys):
    images, local = local_rows
    out = tmp_path / "partial.jsonl"
    first = json.dumps(local[0], ensure_ascii=False) + "\n"
    out.write_text(first + '{"file": "torn', encoding="utf-8")  # a run killed mid-line
    assert main(["locate", *map(str, images), "--out", str(out), "--offline", "--engine", "ray",
                 "--actors", "2", "--ray-address", cluster]) == 0
    assert "3 image(s): 2 located now, 1 already in" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").startswith(first)  # the earlier row as it was
    assert _districts(_rows(out)) == _districts(local)  # each image exactly once, in order
