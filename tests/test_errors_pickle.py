"""Every autotts error survives the trip back from a pool process (pickling), so a
``discover`` with several workers ends on its one-line message, not a broken pool."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from autotts.errors import (
    AutoTTSError,
    CandidateRejected,
    DataFormatError,
    LiveServerError,
    UnknownName,
    UsageError,
)

ERRORS = [
    DataFormatError("store/M/aime25.json", "not JSON", question=3, branch=7),
    UnknownName("controller", "cmcc", ["cmc", "sc"]),
    CandidateRejected("timeout", "ran 30 s"),
    UsageError("--rounds must be >= 1"),
    LiveServerError("http://h: HTTP 400: maximum context length"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_pickles_to_itself(error: AutoTTSError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def _raise(error: AutoTTSError) -> None:
    raise error


def test_a_data_error_raised_in_a_pool_process_arrives_whole() -> None:
    error = ERRORS[0]
    with ProcessPoolExecutor(1) as pool, pytest.raises(DataFormatError) as caught:
        pool.submit(_raise, error).result()
    assert str(caught.value) == "store/M/aime25.json: question 3, branch 7: not JSON"
    assert caught.value.problem == "not JSON"
