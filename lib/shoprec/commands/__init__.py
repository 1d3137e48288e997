"""What the CLI's read commands do: answers from the published tables and the lake.

These sit above the stages: they may read the lake through
:mod:`shoprec.stages.inputs` and the stages' hand-off files through
:mod:`shoprec.stages.handoff`; nothing below the stages imports them.

* :mod:`~shoprec.commands.search`: ``search_command`` behind ``shoprec search``.
"""
