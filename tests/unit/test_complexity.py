"""No function in the package is above cyclomatic complexity 15 (issue 29), closures and
methods scored on their own: radon scores an outer function without the closures inside it, so
a closure is walked and scored separately rather than hidden in a low outer score."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class

import sinoloc

ROOT = Path(sinoloc.__file__).resolve().parent
PACKAGES = ("tools", "agent", "eval", "app", "benchmarks", "prompts")
LIMIT = 15


def scored(blocks, prefix: str = ""):
    """(qualified name, complexity, line) of every function, method and closure in ``blocks``."""
    for block in blocks:
        if isinstance(block, Class):
            yield from scored(block.methods, f"{prefix}{block.name}.")
            yield from scored(block.inner_classes, f"{prefix}{block.name}.")
        else:
            yield f"{prefix}{block.name}", block.complexity, block.lineno
            yield from scored(block.closures, f"{prefix}{block.name}.")


def complexities(source: str) -> dict[int, tuple[str, int]]:
    """{line: (name, complexity)}: radon lists a method both alone and in its class."""
    found: dict[int, tuple[str, int]] = {}
    for name, complexity, line in scored(cc_visit(source)):
        if len(name) >= len(found.get(line, ("",))[0]):
            found[line] = (name, complexity)
    return found


def test_no_function_is_above_the_limit():
    over = [f"{path.relative_to(ROOT)}:{line} {name} ({cc})"
            for top in PACKAGES for path in sorted((ROOT / top).rglob("*.py"))
            for line, (name, cc) in complexities(path.read_text(encoding="utf-8")).items()
            if cc > LIMIT]
    assert not over, f"functions above complexity {LIMIT} (split them into named steps):\n" \
        + "\n".join(over)


def test_closures_are_scored_on_their_own():
    source = ("def outer():\n    def inner(x):\n" + "".join(
        f"        if x == {i}:\n            return {i}\n" for i in range(16)) + "    return inner\n")
    found = complexities(source)
    assert found[1] == ("outer", 1)
    assert found[2] == ("outer.inner", 17)
