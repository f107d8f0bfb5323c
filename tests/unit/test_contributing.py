"""CONTRIBUTING.md stays true: every path it names exists, every ``sinoloc.…`` name it names
resolves, and every recipe block (``<!-- recipe: NAME -->``) runs as written, the new tool
through the real tool runner."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import sinoloc

ROOT = Path(sinoloc.__file__).resolve().parent
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)```", re.S)
TICKED = re.findall(r"`([^`\n]+)`", GUIDE)


def recipes() -> dict[str, str]:
    return {m["name"]: m["code"] for m in RECIPE.finditer(GUIDE)}


def run_recipe(name: str) -> dict:
    namespace = {"__name__": f"contributing_{name}"}
    exec(compile(recipes()[name], f"CONTRIBUTING.md:{name}", "exec"), namespace)
    return namespace


def resolve(dotted: str):
    """The object a dotted ``sinoloc.…`` name names (a module, or an attribute of one)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_guide_has_the_recipes():
    assert set(recipes()) == {"tool", "backend", "clue", "metric"}
    assert {"## A new tool", "## A model backend", "## A clue kind", "## An eval metric",
            "## A web panel"} <= set(re.findall(r"^## .+$", GUIDE, re.M))


def test_every_path_it_names_exists():
    paths = [t for t in TICKED if re.fullmatch(r"[\w.-]+(/[\w.*-]+)*/?", t) and "/" in t]
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_every_name_it_names_resolves():
    names = [t for t in TICKED if re.fullmatch(r"sinoloc(\.\w+)+", t)]
    assert len(names) > 10
    for name in names:
        resolve(name)  # raises when the name has moved or gone


def test_the_tool_recipe_runs_through_the_tool_runner(monkeypatch):
    from sinoloc.agent.toolbox.langchain import ToolSession
    from sinoloc.agent.toolbox.registry import TOOLS

    spec = run_recipe("tool")["SPEC"]
    monkeypatch.setitem(TOOLS, spec.name, spec)
    session = ToolSession()
    text, artifact = session.run(spec.name, {"text": "邮编 310012，电话 0571-88886666"})
    assert "postcodes: 310012" in text and artifact["trace"]["status"] == "ok"
    text, artifact = session.run(spec.name, {"text": "no digits here"})
    assert artifact["trace"]["status"] == "no_result"


def test_the_backend_recipe_refuses_a_hosted_model_offline(capsys):
    run_recipe("backend")
    assert "forbids the hosted model google_genai:gemini-2.5-flash" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["clue", "metric"])
def test_the_recipe_runs_and_its_checks_hold(name, regions):
    run_recipe(name)  # each block ends with the assertions that make it an example
