"""The Beta policy: per-step action probabilities drawn from Beta distributions of the state.

Parameters ``theta`` have shape ``(2, 2, F)``: head 0 decides *stop*, head 1 (asked
only when the episode goes on) decides *branch* rather than *probe*; for each head
``theta[h, 0]`` and ``theta[h, 1]`` are the weights of the Beta's two shape
parameters on the ``F`` state features (:data:`~autotts.discovery.policy.plain.FEATURES`)::

    a = softplus(theta[h, 0] · phi) + FLOOR,   b = softplus(theta[h, 1] · phi) + FLOOR
    p ~ Beta(a, b),   action ~ Bernoulli(p)

The Beta's mean ``a / (a + b)`` is the probability of the action; its concentration
``a + b`` is how sure the policy is of that probability, which the score-function
estimator (``estimator="beta"``) learns as well: a state where the policy hesitates
keeps a wide Beta and explores. ``estimator="bernoulli"`` uses the action's marginal
probability instead (the Beta integrated out: lower variance, concentration not
learnt). Both log-probabilities and their gradients are here, written out
(``tests/discovery/test_policy.py`` checks them against finite differences).

The deterministic controller a policy exports (:class:`~.plain.PolicyController`)
plays the mean policy's likelier action: ``a >= b``, i.e.
``(theta[h, 0] - theta[h, 1]) · phi >= 0``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from autotts.discovery.policy.plain import FEATURES

__all__ = [
    "ESTIMATORS",
    "FLOOR",
    "N_FEATURES",
    "concentrations",
    "initial_theta",
    "log_prob",
    "log_prob_grad",
    "mean_rules",
]

FloatArray = npt.NDArray[np.float64]
N_FEATURES = len(FEATURES)
#: Smallest shape parameter: keeps the Beta's density finite where a score is very negative.
FLOOR = 0.05
#: Probabilities are kept this far from 0 and 1 before their logarithm is taken.
CLIP = 1e-6
ESTIMATORS = ("beta", "bernoulli")


def _softplus(z: FloatArray) -> FloatArray:
    out: FloatArray = np.logaddexp(0.0, z)
    return out


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|
    return out


def initial_theta(stop_bias: float = -2.0, branch_bias: float = 0.0) -> FloatArray:
    """A neutral start: rules depend on no feature; stop rarely, branch or probe evenly.

    ``stop_bias`` is the bias of ``b - a`` in score units, negative for "seldom stop":
    the mean stop probability starts near ``softplus(0) / (softplus(0) +
    softplus(-stop_bias))``.
    """
    theta = np.zeros((2, 2, N_FEATURES))
    theta[0, 1, 0] = -stop_bias
    theta[1, 1, 0] = -branch_bias
    return theta


def concentrations(head: FloatArray, phi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(a, b)`` of one head (``head``: shape ``(2, F)``) at states ``phi`` (``(n, F)``)."""
    za = phi @ head[0]
    zb = phi @ head[1]
    return _softplus(za) + FLOOR, _softplus(zb) + FLOOR


def log_prob(
    head: FloatArray, phi: FloatArray, p: FloatArray, y: FloatArray, estimator: str
) -> FloatArray:
    """Per state: log-probability of what the head drew (``p`` its Beta draw, ``y`` the action).

    ``beta``: ``log Beta(p; a, b)`` (the Bernoulli draw given ``p`` does not depend on
    the weights, so it adds nothing to the gradient and is left out);
    ``bernoulli``: ``log P(y)`` with ``P(y = 1) = a / (a + b)``.
    """
    a, b = concentrations(head, phi)
    if estimator == "beta":
        q = np.clip(p, CLIP, 1.0 - CLIP)
        out: FloatArray = (
            (a - 1.0) * np.log(q)
            + (b - 1.0) * np.log1p(-q)
            - (gammaln(a) + gammaln(b) - gammaln(a + b))
        )
        return out
    if estimator == "bernoulli":
        m = np.clip(a / (a + b), CLIP, 1.0 - CLIP)
        res: FloatArray = np.where(y > 0.5, np.log(m), np.log1p(-m))
        return res
    raise ValueError(f"unknown estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")


def log_prob_grad(
    head: FloatArray,
    phi: FloatArray,
    p: FloatArray,
    y: FloatArray,
    weight: FloatArray,
    estimator: str,
) -> FloatArray:
    """``sum_i weight[i] * d log_prob[i] / d head``: shape ``(2, F)``."""
    za = phi @ head[0]
    zb = phi @ head[1]
    a = _softplus(za) + FLOOR
    b = _softplus(zb) + FLOOR
    if estimator == "beta":
        q = np.clip(p, CLIP, 1.0 - CLIP)
        both = digamma(a + b)
        da = np.log(q) - digamma(a) + both
        db = np.log1p(-q) - digamma(b) + both
    elif estimator == "bernoulli":
        s = a + b
        m = a / s
        # d log m / da = b / (a s), d log m / db = -1 / s; d log(1 - m) / da = -1 / s, ... / db = a / (b s)
        hit = y > 0.5
        da = np.where(hit, b / (a * s), -1.0 / s)
        db = np.where(hit, -1.0 / s, a / (b * s))
        # where m was clipped, log_prob is flat in the weights
        flat = (m < CLIP) | (m > 1.0 - CLIP)
        da = np.where(flat, 0.0, da)
        db = np.where(flat, 0.0, db)
    else:
        raise ValueError(f"unknown estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")
    ga = weight * da * _sigmoid(za)
    gb = weight * db * _sigmoid(zb)
    return np.stack([ga @ phi, gb @ phi])


def mean_rules(theta: FloatArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The exported controller's rules: per head, ``theta[h, 0] - theta[h, 1]`` as floats."""
    stop = tuple(float(x) for x in theta[0, 0] - theta[0, 1])
    branch = tuple(float(x) for x in theta[1, 0] - theta[1, 1])
    return stop, branch
