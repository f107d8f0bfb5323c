"""The agent's tools: the registry and schemas offered to a policy (``registry``), the typed
context a tool runs with (``context``), adapters over offline, online and prior capabilities,
and the same tools as LangChain ``BaseTool`` objects (``langchain``)."""
