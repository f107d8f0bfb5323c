"""The knowledge CLI and locate's clue-file check as subprocesses; building the CLI parser imports
nothing heavy."""

import json
import subprocess
import sys

import pytest


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sinoloc.app.cli.main", *args],
                          capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.slow
def test_knowledge_cli_search_show_stats_validate(tmp_path):
    out = run_cli("knowledge", "search", "维吾尔文招牌", "-k", "2", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert hits[0]["id"] == "script-uyghur" and hits[0]["region_names"] == ["新疆维吾尔自治区"]
    assert "bm25s" not in out.stderr
    shown = run_cli("knowledge", "show", "power-csg", "--json")
    assert json.loads(shown.stdout)["patterns"] == ["南方电网"]
    assert run_cli("knowledge", "show", "no-such-entry").returncode == 2
    stats = json.loads(run_cli("knowledge", "stats", "--json").stdout)
    assert stats["entries"] >= 300 and len(stats["province"]) == 34
    good = tmp_path / "mine.csv"
    good.write_text("id,kind,clue_zh,clue_en,regions,strength,exclusive,excludes,patterns,source\n"
                    "my-chain,commerce,某某连锁超市,A chain,420100:1,0.7,,,,my notes\n",
                    encoding="utf-8")
    assert "1 of yours: ok" in run_cli("knowledge", "validate", str(good)).stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text(encoding="utf-8").replace("420100", "999999"), encoding="utf-8")
    out = run_cli("knowledge", "validate", str(bad))
    assert out.returncode == 2 and f"error: {bad}:2: unknown adcode 999999" in out.stdout


def test_locate_refuses_a_bad_clue_file_before_any_work(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind,clue_zh,clue_en,regions,strength,exclusive,excludes,patterns,source\n"
                   "x,commerce,某某连锁超市,A chain,420100:1,0.7,,,,\n", encoding="utf-8")
    out = run_cli("locate", "--demo", "--knowledge", str(bad))
    assert out.returncode == 2 and "every clue needs a source" in out.stderr
    assert out.stdout == ""


def test_building_the_cli_parser_imports_nothing_heavy():
    from sinoloc.app.cli.knowledge import USER_FILES_ENV as spelled
    from sinoloc.tools.knowledge.corpus import USER_FILES_ENV

    assert spelled == USER_FILES_ENV
    probe = ("import sys; from sinoloc.app.cli.main import _parser; _parser(); "
             "print(sorted(m for m in ('sinoloc.tools.regions', 'sinoloc.tools.knowledge', "
             "'sinoloc.agent.toolbox.registry', 'sinoloc.eval.run_config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
