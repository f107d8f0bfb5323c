"""``sinoloc mcp``: the geolocator as an MCP server (:mod:`sinoloc.app.mcp.server`) over stdio
or Streamable HTTP (:mod:`sinoloc.app.mcp.transport`)."""
