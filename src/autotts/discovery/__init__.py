"""Agentic discovery: proposers write controllers, the replay environment scores them.

Layout: :mod:`~autotts.discovery.rundir` (the run directory), ``settings``,
``loop`` (propose → check → evaluate → digest → record; select; held-out),
``curves``, ``selection``, ``history``, ``digest``, ``heldout`` (with ``verdict``,
``heldout_common`` and ``heldout_records``, shared with ``optimizer/``), ``proposers/``
(one module per proposer kind) and ``prompts/`` (Jinja2 templates).
The notebook-facing API is :func:`autotts.discovery.api.discover` and
:class:`autotts.discovery.api.DiscoveryRun`.
"""
