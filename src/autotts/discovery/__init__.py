"""Agentic discovery: proposers write controllers, the replay environment scores them.

Layout: :mod:`~autotts.discovery.rundir` (the run directory) and its typed records
(``records``, ``baseline_records``, ``heldout_records``, ``transfer_records``),
``settings``, ``loop`` (propose → check → evaluate → digest → record; select;
held-out), ``baselines`` (the hand-crafted curves every proposer is shown),
``curves``, ``selection``, ``history``, ``digest``, ``heldout`` (with ``verdict`` and
``heldout_common``, shared with ``optimizer/``), ``proposers/``
(one module per proposer kind) and ``prompts/`` (Jinja2 templates).
The notebook-facing API is :func:`autotts.discovery.api.discover` and
:class:`autotts.discovery.api.DiscoveryRun`.
"""
