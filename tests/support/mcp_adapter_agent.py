"""A client agent in its own environment (run by tests/e2e/test_mcp_adapters.py with the
langchain-mcp-adapters install of constraints/mcp-adapters.txt first on its path): it loads
``sinoloc mcp``'s tools with langchain-mcp-adapters into an agent built with ``create_agent``
around the scripted model, which calls ``locate_image``; it prints what the agent saw as JSON.

    python mcp_adapter_agent.py IMAGES_DIR IMAGE_NAME SERVER_PYTHONPATH
"""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def main(images: str, name: str, server_path: str) -> dict:
    import mcp
    from langchain.agents import create_agent
    from langchain_core.messages import ToolMessage
    from langchain_mcp_adapters.client import MultiServerMCPClient
    from scripted_model import ScriptedChatModel, call, reply

    env = {**os.environ, "PYTHONPATH": server_path}  # the server runs on the project's mcp 2.x
    client = MultiServerMCPClient({"sinoloc": {
        "transport": "stdio", "command": sys.executable, "env": env,
        "args": ["-m", "sinoloc.app.cli.main", "mcp", "--offline", "--images", images]}})
    tools = await client.get_tools()
    model = ScriptedChatModel(script=[
        reply(call("locate_image", image=name), text="Let me locate it."),
        reply(text="The photo was taken in the district the tool found."),
    ])
    agent = create_agent(model, tools, system_prompt="Locate photos with the sinoloc tools.")
    result = await agent.ainvoke({"messages": [("user", f"Where was {name} taken?")]})
    answers = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    return {
        "client_mcp": mcp.__file__,
        "tools": sorted(t.name for t in tools),
        "bound": sorted(t.get("function", t).get("name", "") if isinstance(t, dict)
                        else getattr(t, "name", "") for t in model.bound_tools),
        "tool_message": answers[0].content if answers else None,
        "structured": (answers[0].artifact or {}).get("structured_content") if answers else None,
        "final": result["messages"][-1].content,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4])), ensure_ascii=False, default=str))
