"""``sinoloc mcp`` inside someone else's LangChain agent: langchain-mcp-adapters loads its tools
into an agent built with ``create_agent`` around the scripted model, which calls
``locate_image`` on a rendered sign; the agent gets the district back.

langchain-mcp-adapters (0.3.2, the newest) requires mcp<2 and the server is built on mcp 2.x, so
the client agent runs in a subprocess with the adapter's own install first on its path
(constraints/mcp-adapters.txt; .ci/run installs it into .mcp-adapters/), as a client agent in its
own environment would; the server it starts runs on the project's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imaging import hangzhou_shop

pytestmark = [pytest.mark.loopback, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "tests" / "support"
ADAPTERS = Path(os.environ.get("SINOLOC_TEST_MCP_ADAPTERS", ROOT / ".mcp-adapters"))


@pytest.mark.skipif(not (ADAPTERS / "langchain_mcp_adapters").is_dir(), reason=(
    f"langchain-mcp-adapters is not installed apart in {ADAPTERS}: pip install --no-deps "
    "--target .mcp-adapters -r constraints/mcp-adapters.txt (as .ci/run does)"))
def test_langchain_mcp_adapters_agent_calls_locate_image(tmp_path):
    hangzhou_shop(tmp_path / "shop.jpg")
    server_path = os.environ.get("PYTHONPATH", "")
    client_path = os.pathsep.join([str(ADAPTERS), str(SUPPORT), server_path])
    out = subprocess.run([sys.executable, str(SUPPORT / "mcp_adapter_agent.py"), str(tmp_path),
                          "shop.jpg", server_path],
                         env={**os.environ, "PYTHONPATH": client_path}, capture_output=True,
                         text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["client_mcp"].startswith(str(ADAPTERS))  # the client really ran the adapter's SDK
    assert seen["tools"] == ["candidates", "explain", "knowledge_search", "locate_image"]
    assert "locate_image" in seen["bound"]  # create_agent bound the MCP tools to the model
    text = seen["tool_message"] if isinstance(seen["tool_message"], str) \
        else json.dumps(seen["tool_message"], ensure_ascii=False)
    assert "杭州市" in text and "西湖区" in text and "run_id" in text
    assert seen["structured"]["district_adcode"] == "330106"
    assert seen["final"].startswith("The photo was taken")
