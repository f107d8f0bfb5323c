"""Words that went stale (issue 32 item 12): install hints that work from the clone, help texts
that say what the options do, the threat model naming the servers that exist."""

from __future__ import annotations

import re
from pathlib import Path

from sinoloc.app.cli.main import _parser

ROOT = Path(__file__).resolve().parents[2]


def _sources():
    for folder in ("agent", "app", "eval", "tools"):
        yield from (ROOT / folder).rglob("*.py")
    yield ROOT / "README.md"
    yield from (ROOT / "docs").glob("*.md")


def test_install_hints_name_the_extra_from_the_clone():
    # sinoloc is installed from its clone (README: pip install .): 'sinoloc[x]' asks an index
    stale = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in _sources()
             for m in re.finditer(r"pip install '?sinoloc\[\w+\]", p.read_text(encoding="utf-8"))]
    assert stale == []


def _help(*command: str) -> str:
    parser = _parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    target = sub.choices[command[0]]
    for name in command[1:]:
        inner = next(a for a in target._actions if a.__class__.__name__ == "_SubParsersAction")
        target = inner.choices[name]
    return target.format_help()


def test_serve_help_is_prose_not_a_docstring():
    text = _help("serve")
    assert "``" not in text and "app/web/" not in text and ":class:" not in text
    assert "web app" in text and "127.0.0.1" in text


def test_eval_run_help_says_offline_also_refuses_hosted_models():
    text = " ".join(_help("eval", "run").split())
    assert "a hosted --llm is refused" in text


def test_the_threat_model_speaks_of_the_servers_that_exist():
    pages = {p: p.read_text(encoding="utf-8") for p in _sources() if p.suffix == ".md"}
    assert [p.name for p, text in pages.items() if "a future `sinoloc serve`" in text] == []
    threat = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    summary = threat.split("## In short", 1)[1].split("\n## ", 1)[0]
    assert "`sinoloc serve`" in summary and "ServeBoundary" in summary


def test_the_constant_baseline_counts_no_tool_call(tmp_path):
    """Every tool switched off: the trace still lists what was skipped, the count says 0."""
    from PIL import Image

    from sinoloc.agent.api import Geolocator
    from sinoloc.eval.run_config import BASELINES

    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 48), (128, 128, 128)).save(image)
    p = Geolocator().locate(image, **BASELINES["constant"])
    assert [t.tool for t in p.tool_calls] == ["cnn_prior", "ocr", "lookup_clues"]
    assert {t.status for t in p.tool_calls} == {"unavailable"}
    assert p.usage.tool_calls == 0
