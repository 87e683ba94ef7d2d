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

from autotts.discovery.policy.plain import FEATURES, FLOOR

__all__ = [
    "ESTIMATORS",
    "FLOOR",
    "N_FEATURES",
    "concentrations",
    "initial_theta",
    "log_prob",
    "log_prob_grad",
    "mean_probability",
    "softplus",
    "weights",
]

FloatArray = npt.NDArray[np.float64]
N_FEATURES = len(FEATURES)
#: Probabilities are kept this far from 0 and 1 before their logarithm is taken.
CLIP = 1e-6
ESTIMATORS = ("beta", "bernoulli")


def softplus(z: FloatArray) -> FloatArray:
    """``log(1 + e^z)``, by the formula :func:`.plain.softplus` uses."""
    out: FloatArray = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    return out


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|
    return out


def initial_theta() -> FloatArray:
    """A neutral start: rules depend on no feature; stop seldom, branch or probe evenly.

    The stop head starts at ``a = softplus(-3) + FLOOR ≈ 0.10``, ``b = softplus(2) +
    FLOOR ≈ 2.2``: a stop probability near 0.04 per decision, so early episodes run
    some twenty decisions and meet states worth stopping in.
    """
    theta = np.zeros((2, 2, N_FEATURES))
    theta[0, 0, 0] = -3.0
    theta[0, 1, 0] = 2.0
    return theta


def concentrations(head: FloatArray, phi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(a, b)`` of one head (``head``: shape ``(2, F)``) at states ``phi`` (``(n, F)``)."""
    za = phi @ head[0]
    zb = phi @ head[1]
    return softplus(za) + FLOOR, softplus(zb) + FLOOR


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
    a = softplus(za) + FLOOR
    b = softplus(zb) + FLOOR
    if estimator == "beta":
        q = np.clip(p, CLIP, 1.0 - CLIP)
        both = digamma(a + b)
        da = np.log(q) - digamma(a) + both
        db = np.log1p(-q) - digamma(b) + both
    elif estimator == "bernoulli":
        s = a + b
        m = a / s
        # d log m / da = b / (a s), d log m / db = -1 / s;
        # d log(1 - m) / da = -1 / s, d log(1 - m) / db = a / (b s)
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


def weights(theta: FloatArray) -> tuple[tuple[float, ...], ...]:
    """``(STOP_A, STOP_B, BRANCH_A, BRANCH_B)`` of the exported controller, as floats."""
    return tuple(tuple(float(x) for x in theta[h, i]) for h in (0, 1) for i in (0, 1))


def mean_probability(head: FloatArray, phi: FloatArray) -> FloatArray:
    """The Beta's mean ``a / (a + b)`` per state, as :func:`.plain.mean_probability` computes it.

    The scores are summed feature by feature, left to right, as the plain controller
    sums them, so both get the same floats (a matrix product may sum in another order).
    """
    za = np.zeros(phi.shape[0])
    zb = np.zeros(phi.shape[0])
    for i in range(phi.shape[1]):
        za = za + float(head[0, i]) * phi[:, i]
        zb = zb + float(head[1, i]) * phi[:, i]
    a = softplus(za) + FLOOR
    b = softplus(zb) + FLOOR
    out: FloatArray = a / (a + b)
    return out
