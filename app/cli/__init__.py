"""The ``sinoloc`` command line: one module per command (``main`` holds the parser and the
options every command shares; ``locate``, ``chat``, ``eval``, ``knowledge``, ``prior``, ``serve``,
``sft``), help formatting and shared option groups. The batch engine behind ``locate`` over many
images is :mod:`sinoloc.agent.batch` (eval's Ray engine shares it)."""
