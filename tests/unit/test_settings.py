"""Settings in one place (agent/settings.py): defaults and bounds read by the CLI and eval, the
graph's context schema, and how a request's fields combine with configured defaults."""

import argparse

import pytest

from sinoloc.agent.settings import (
    LocateRequest,
    LocateSettings,
    bounded,
    field_bounds,
    field_default,
    resolve_request,
)


def test_every_setting_says_what_it_does():
    missing = [n for n, f in LocateSettings.model_fields.items() if not f.description]
    assert missing == []


def test_field_default_and_bounds_come_from_the_model():
    assert field_default("top_k") == LocateSettings().top_k == 10
    assert field_default("disabled_tools") == []  # a default factory is called
    assert field_bounds("top_k") == (1, 50)
    assert field_bounds("max_seconds") == (0, None)
    assert field_bounds("ignore_exif") == (None, None)


def test_bounded_type_refuses_what_the_model_refuses():
    parse = bounded("top_k")
    assert parse("7") == 7
    for bad in ("0", "51", "seven"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)
    with pytest.raises(ValueError):
        LocateSettings(top_k=51)


def test_cli_and_eval_defaults_are_the_settings_defaults():
    from sinoloc.app.cli.main import _parser
    from sinoloc.eval.run_config import RunConfig

    args = _parser().parse_args(["locate", "x.jpg"])
    for name in ("top_k", "max_model_calls", "max_tool_calls", "max_seconds"):
        assert getattr(args, name) == field_default(name), name
    assert args.ocr == field_default("ocr_backend")
    config = RunConfig.model_fields
    for name in ("ocr_backend", "max_model_calls", "max_tool_calls", "max_seconds"):
        assert config[name].default == field_default(name), name


def test_request_fields_win_over_configurable_over_context():
    merged = resolve_request({"image_path": "a.jpg", "top_k": 2},
                             configurable={"top_k": 5, "max_tool_calls": 9, "thread_id": "t"},
                             context=LocateSettings(top_k=7, max_tool_calls=11, verify=False))
    assert isinstance(merged, LocateRequest)
    assert (merged.top_k, merged.max_tool_calls, merged.verify) == (2, 9, False)


def test_the_ocr_choices_are_written_once():
    """--ocr's choices (locate, chat, serve, eval run) are the backends the component check
    knows how to install and load."""
    from sinoloc.agent import components
    from sinoloc.agent.settings import OCR_BACKENDS, field_default
    from sinoloc.app.cli.main import _parser

    assert set(OCR_BACKENDS) == set(components._OCR_PACKAGES) and field_default("ocr_backend") in OCR_BACKENDS
    parser = _parser()
    for command in (["locate", "x.jpg"], ["chat"], ["serve"], ["eval", "run", "d.csv", "--out", "o"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--ocr", "tesseract"])
