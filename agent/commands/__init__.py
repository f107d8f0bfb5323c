"""The ``sinoloc`` command line: one module per command (``main`` holds the parser and the
options every command shares; ``locate``, ``knowledge``, ``prior``, ``serve``, ``sft``), the
batch engine behind ``locate`` over many images, help formatting and shared option groups."""
