import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_package_is_installed_under_sinoloc():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"sinoloc"}
    for init in ROOT.glob("*/**/__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts[0] in {"tests", ".venv", "build"} or rel.parts[0].startswith("."):
            continue
        found.add("sinoloc." + ".".join(rel.parts))
    assert found == listed
    assert all(name == "sinoloc" or name.startswith("sinoloc.") for name in listed)


def test_prompts_and_data_are_package_data():
    from sinoloc.prompts import load_prompt

    assert "submit_answer" in load_prompt("system")
    assert "{failures}" in load_prompt("verify_feedback")
