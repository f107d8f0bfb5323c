"""The environment is read at the edge and never written to carry a choice between modules
(issue 29): no module of the package assigns ``os.environ[...]``, updates it or calls
``putenv``; ``setdefault`` only ever sets a third-party library's switch before it loads
(onnxruntime's telemetry, Ray's loopback binding), never one of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import sinoloc
from sinoloc.agent.settings import Environment

ROOT = Path(sinoloc.__file__).resolve().parent
PACKAGES = ("tools", "agent", "eval", "app", "benchmarks", "prompts")


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" \
        and isinstance(node.value, ast.Name) and node.value.id == "os"


def environment_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of every write to ``os.environ`` in ``source`` that may carry one of our
    settings: item assignment or deletion, ``update``, ``pop``, ``putenv``, and ``setdefault``
    of a ``SINOLOC_*`` name (a name not spelled out at the call counts when the module spells
    any ``SINOLOC_*`` name at all)."""
    ours = "SINOLOC_" in source
    found = []
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else \
            node.targets if isinstance(node, ast.Delete) else []
        found += [(node.lineno, "os.environ[...] =") for t in targets
                  if isinstance(t, ast.Subscript) and _is_environ(t.value)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, owner = node.func.attr, node.func.value
            if _is_environ(owner) and name in ("update", "pop", "clear", "popitem"):
                found.append((node.lineno, f"os.environ.{name}"))
            elif isinstance(owner, ast.Name) and owner.id == "os" and name in ("putenv", "unsetenv"):
                found.append((node.lineno, f"os.{name}"))
            elif _is_environ(owner) and name == "setdefault":
                key = node.args[0] if node.args else None
                literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
                if key.value.startswith("SINOLOC_") if literal else ours:
                    found.append((node.lineno, "os.environ.setdefault of a setting"))
    return found


def test_the_package_never_writes_the_environment():
    writes = [f"{path.relative_to(ROOT)}:{line}: {what}"
              for top in PACKAGES for path in sorted((ROOT / top).rglob("*.py"))
              for line, what in environment_writes(path.read_text(encoding="utf-8"))]
    assert not writes, "pass the choice on explicitly instead:\n" + "\n".join(writes)


def test_the_scan_sees_each_kind_of_write():
    source = ("import os\nos.environ['SINOLOC_X'] = '1'\nos.environ.update(a='1')\n"
              "os.putenv('A', '1')\nos.environ.setdefault('SINOLOC_Y', '1')\n"
              "os.environ.setdefault('ORT_DISABLE_TELEMETRY', '1')\nos.environ.get('SINOLOC_Z')\n")
    assert [line for line, _ in environment_writes(source)] == [2, 3, 4, 5]
    hidden = "import os\nNAME = 'SINOLOC_X'\nos.environ.setdefault(NAME, '1')\n"
    assert [line for line, _ in environment_writes(hidden)] == [3]
    theirs = "import os\nOFF = ('RAY_X', '0')\nos.environ.setdefault(*OFF)\n"
    assert environment_writes(theirs) == []


def test_the_edge_reads_the_locators_choices_once():
    env = Environment.read({"SINOLOC_LLM": "openai:m", "SINOLOC_LLM_BASE_URL": "http://127.0.0.1:1/v1",
                            "SINOLOC_OCR": "paddleocr"})
    assert (env.llm, env.base_url, env.ocr_backend) == ("openai:m", "http://127.0.0.1:1/v1", "paddleocr")
    unset = Environment.read({})
    assert unset.llm is None and unset.base_url is None and unset.ocr_backend == "rapidocr"
    assert "ocr_backend" not in unset.model_fields_set  # a default, not the environment's choice
