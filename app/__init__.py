"""What a person or another program touches, above the agent and eval: the command line (``cli/``),
the terminal chat (``chat/``) and the web app with the runs viewer (``web/``). Thin: parse, call
:mod:`sinoloc.agent` or :mod:`sinoloc.eval`, render."""
