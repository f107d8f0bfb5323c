"""``tools``: the ReAct tools node: every call of the policy's last message except
``submit_answer``, run by :func:`sinoloc.agent.toolbox.runner.execute_calls`."""

from __future__ import annotations

import time

from sinoloc.agent.state import GeoState, last_ai_message
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL
from sinoloc.agent.toolbox.runner import execute_calls


def run_tools(state: GeoState) -> dict:
    """The ReAct tools node: every call of the last AI message except ``submit_answer``."""
    start = time.perf_counter()
    calls = [c for c in last_ai_message(state).tool_calls if c["name"] != SUBMIT_TOOL]
    update = execute_calls(state, calls)
    update["timings"]["tools_total"] = round(
        state.get("timings", {}).get("tools_total", 0.0) + time.perf_counter() - start, 4)
    return update
