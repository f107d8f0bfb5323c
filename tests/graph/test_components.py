"""A component asked for by name that cannot load is one clear line and exit 2 before any work
(CLI, eval) or an exception naming the fix (the Python API, the graph), never a run that quietly
goes on without it."""

import pytest
from imaging import hangzhou_shop

from sinoloc.agent.components import ComponentUnavailable, check_components


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


@pytest.fixture
def no_paddle(monkeypatch):
    import importlib.util

    from sinoloc.agent import components

    real = importlib.util.find_spec
    monkeypatch.setattr(components.importlib.util, "find_spec",
                        lambda name, *a: None if name == "paddleocr" else real(name, *a))
    components.check_ocr_backend.cache_clear()
    yield
    components.check_ocr_backend.cache_clear()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, err
    return err


def test_missing_paddleocr_is_exit_2(photo, capsys, no_paddle):
    from sinoloc.app.cli.main import main

    assert main(["locate", str(photo), "--ocr", "paddleocr"]) == 2
    err = one_line_error(capsys)
    assert "paddleocr package is not installed" in err and "'.[paddle]'" in err


def test_missing_prior_is_exit_2(photo, capsys, tmp_path):
    from sinoloc.app.cli.main import main

    assert main(["locate", str(photo), "--prior", str(tmp_path / "nonexistent")]) == 2
    err = one_line_error(capsys)
    assert "no such directory" in err and "sinoloc prior train" in err


def test_a_prior_from_the_environment_is_checked_too(photo, capsys, tmp_path, monkeypatch):
    from sinoloc.app.cli.main import main

    monkeypatch.setenv("SINOLOC_PRIOR_CHECKPOINT", str(tmp_path / "gone"))
    assert main(["locate", str(photo)]) == 2
    assert "no such directory" in one_line_error(capsys)


@pytest.mark.parametrize("offline", [True, False])
def test_prior_with_an_unreachable_hub_backbone(tmp_path, monkeypatch, offline):
    """A checkpoint whose backbone is a hub id this machine has not cached is refused before
    any work, naming `hf download`: offline without probing the hub; online after one failed
    connection attempt (the test guard refuses it), not a minute of retries."""
    from types import SimpleNamespace

    from sinoloc.tools.prior import checkpoint

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "prior.json").write_text("{}")
    monkeypatch.setattr(checkpoint, "read_checkpoint", lambda path: SimpleNamespace(
        backbone_source=lambda directory: "sinoloc-test/no-such-model"))
    with pytest.raises(ComponentUnavailable, match="`hf download sinoloc-test/no-such-model`"):
        check_components(prior=str(folder), offline=offline)


def test_missing_knowledge_file_is_exit_2(photo, capsys, tmp_path, monkeypatch):
    from sinoloc.app.cli.main import main
    from sinoloc.tools.knowledge import files

    monkeypatch.setattr(files, "_chosen_files", None)  # --knowledge sets it: restored after the test

    assert main(["locate", str(photo), "--knowledge", str(tmp_path / "none.csv")]) == 2
    assert one_line_error(capsys).startswith("sinoloc: ")


def test_missing_local_model_is_exit_2(photo, capsys, tmp_path):
    from sinoloc.app.cli.main import main

    assert main(["locate", str(photo), "--llm", f"local:{tmp_path / 'no-model'}"]) == 2
    assert "no config.json" in one_line_error(capsys)


def test_the_api_and_the_graph_raise_before_work(photo, no_paddle):
    from sinoloc import Geolocator, build_graph

    with pytest.raises(ComponentUnavailable, match="paddleocr"):
        Geolocator().locate(photo, ocr_backend="paddleocr")
    with pytest.raises(ComponentUnavailable, match="paddleocr"):
        build_graph().invoke({"request": {"image_path": str(photo)}},
                             config={"configurable": {"ocr_backend": "paddleocr"}})


def test_eval_run_refuses_before_any_image(tmp_path, capsys, no_paddle):
    from eval_data import labelled_set

    from sinoloc.app.cli.main import main

    data = labelled_set(tmp_path / "set", scenes=1)
    out = tmp_path / "run"
    assert main(["eval", "run", str(data), "--out", str(out), "--ocr", "paddleocr"]) == 2
    assert "paddleocr" in one_line_error(capsys)
    assert not (out / "predictions.jsonl").exists()  # refused before the first image


def test_eval_run_refuses_a_missing_local_model_before_any_image(tmp_path, capsys):
    """The driver checks a local: model directory without loading a model (its workers load
    their own): one line, exit 2, no row."""
    from eval_data import labelled_set

    from sinoloc.app.cli.main import main

    data = labelled_set(tmp_path / "set", scenes=1)
    out = tmp_path / "run"
    assert main(["eval", "run", str(data), "--out", str(out),
                 "--llm", f"local:{tmp_path / 'no-model'}"]) == 2
    assert "no config.json" in one_line_error(capsys)
    assert not (out / "predictions.jsonl").exists()


def test_the_api_reads_the_environment_like_the_cli(photo, no_paddle, monkeypatch):
    """Geolocator() takes SINOLOC_OCR (and SINOLOC_LLM) from the environment as the CLI does;
    a setting given in code wins."""
    from sinoloc import Geolocator
    from sinoloc.agent.settings import Environment

    monkeypatch.setenv("SINOLOC_OCR", "paddleocr")
    with pytest.raises(ComponentUnavailable, match="paddleocr"):
        Geolocator().locate(photo)
    assert Geolocator(ocr_backend="rapidocr")._defaults["ocr_backend"] == "rapidocr"
    assert "ocr_backend" not in Geolocator(environment=Environment())._defaults
