"""Live models: collect replay data from a server, run controllers online, serve them.

* :mod:`~autotts.live.answers` — ``\\boxed{}`` parsing (``ERR`` when none);
* :mod:`~autotts.live.prompts` — prompt templates and the forced-answer suffix;
* :mod:`~autotts.live.client` — an OpenAI-compatible completions client (official
  ``openai`` package): chunks of Δ tokens, probes, usage, retries;
* :mod:`~autotts.live.collector` — build a replay file from a live server;
* :mod:`~autotts.live.runtime` — :class:`~autotts.env.session.EpisodeBackend` over a
  live server, so controllers run unchanged online;
* :mod:`~autotts.live.replay_model` / :mod:`~autotts.live.replay_server` — a model
  server that serves stored trajectories;
* :mod:`~autotts.live.serving` — controllers as an OpenAI-compatible chat endpoint.

The HTTP parts need the ``live`` extra: ``pip install 'autotts[live]'``.
"""
