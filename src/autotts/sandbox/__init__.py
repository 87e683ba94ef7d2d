"""Running untrusted controllers: a limited worker process, results as data.

See :mod:`autotts.sandbox.layers` for the isolation layers and
:mod:`autotts.sandbox.replay` for the trusted accounting of a worker's results.
"""

from autotts.sandbox.candidate import CandidateFile, read_candidate, split_reference
from autotts.sandbox.client import SandboxWorker
from autotts.sandbox.layers import SandboxLimits, available_layers
from autotts.sandbox.payload import decode_log, encode_question
from autotts.sandbox.replay import replay_log, replay_log_fast

__all__ = [
    "CandidateFile",
    "SandboxLimits",
    "SandboxWorker",
    "available_layers",
    "decode_log",
    "encode_question",
    "read_candidate",
    "replay_log",
    "replay_log_fast",
    "split_reference",
]
