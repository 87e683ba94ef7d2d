"""Vectorised implementations of the built-in controllers.

Each function here replays every episode of an :class:`~autotts.env.batch.EpisodeBatch`
at once and must return exactly what the controller's ``solve`` returns episode by
episode (``tests/controllers/test_vectorised.py`` checks it on every registered
controller). They are the reason ``autotts table`` runs in seconds. CMC has no kernel
here: its fast path is the composable kernel
(:mod:`autotts.controllers.composable.vectorised`) on its settings as parts.
"""
