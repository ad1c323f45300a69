"""Topic 08 checks: every loss against optax, its gradient against ``jax.vjp`` of optax.

Each oracle is optax's own loss, reduced with ``.mean()`` as the exercises
are, so the checks share no code with the reference. Only the first
argument (predictions, logits, log-predictions) is differentiated; targets
and labels are data (``Case(..., diff=(0,))``). The backward is compared
with ``jax.vjp`` of the oracle and, on small float64 cases, with central
differences of the checked forward.

The cases aim at what goes wrong in practice:

- square first: ``(n, n)`` predictions and logits with as many classes as
  rows (``n`` from 3 to 5), where a gradient transposed or labels read as
  rows (``log_p[labels, arange(n)]``) keep the right shape; then odd sizes,
  a batch of 1, more classes than rows and more rows than classes, labels
  at both ends of the class range. Every loss is a mean: the oblong cases
  tell the batch size from the class count and from the element count, so
  a sum, a mean over the wrong axis or a ``1/c`` in place of ``1/n`` fails;
- stability: logits of size 100 and 1000 (in float32 too), and a large
  offset shared by a row, where ``log(sigmoid(x))`` and ``log(softmax(z))``
  computed naively give ``inf`` or ``NaN`` in the loss or its gradient
  (float32 overflows already at ``exp(89)``);
- hyper-parameters across their range, ends included, drawn by
  :func:`fdl.check.sample.hyper`: Huber's ``delta`` log-spaced over
  [0.01, 100] on square cases whose errors straddle it (and errors exactly
  at ``+-delta``), label smoothing's ``alpha`` over [0, 1] (0: plain
  cross-entropy, 1: the uniform target), each on a square case;
- conventions: soft BCE labels, KL targets that are exactly 0
  (``0 log 0 = 0``, as optax treats them), one-hot targets and
  log-predictions far too small to exponentiate;
- float32: square and oblong float32 cases per loss, and, since each case
  runs through ``vjp_check`` on its own, a float32 copy of every float64
  case that fits: the loss and its gradient stay float32.

**Tolerances** are in machine epsilons of the case's dtype (see
:mod:`fdl.check.tolerance`), and, like the engine's absolute term, relative
to the size of the terms a result is computed from, not only to the result.
Four losses need that said per case, because a correct result can be much
smaller than those terms:

- a cross-entropy is a difference, ``logsumexp(z) - z_y``. optax rounds
  ``logsumexp(z)`` to ``eps * |logsumexp(z)|`` before subtracting, so a
  confident, correct row (loss 0.01, logits around 5) or a shared offset of
  1000 (loss 1, logits around 1000) leaves the *oracle* only accurate to
  ``eps * (|logsumexp| + |z|)``. :func:`cross_entropy_spread` measures that
  ratio, terms over value, for each case, and the case's tolerance is
  multiplied by it (1 for most cases);
- KL is a difference too, ``t log t - t log p``: :func:`kl_spread`;
- BCE's gradient is ``sigmoid(x) - y``: a lone soft label close to
  ``sigmoid(x)``, or a hard one the logit already gets right, leaves a
  gradient far smaller than ``p`` and ``y``: :func:`bce_spread`;
- optax's Huber gradient is ``delta g + e g - delta g`` inside the quadratic
  zone, accurate to ``eps * delta`` rather than ``eps * |e|``:
  :func:`huber_spread` is ``delta / max|e|`` when every error is small.

``vjp_check`` takes one tolerance, so a case's factor loosens its gradient
comparisons too (against ``jax.vjp`` and against central differences, whose
rounding is that of the forward's terms divided by the step); even the largest (about 1000, the shared offset) leaves a
bound near 1e-12 relative, far below any error that is not rounding (a test
plants a relative error of 1e-9 and sees it fail).

BCE's loss terms are all non-negative, but optax's gradient goes through
``exp(x - logaddexp(x, 0))``, whose exponent is rounded to ``eps * |x|``: up
to about 20 eps of the largest gradient for ``|x|`` near 37, where the
sigmoid saturates. Its absolute multiple is 64 for that reason.

Central differences of a mean of ``N`` terms err by ``eps^(2/3)`` of the
loss's value, while each gradient entry is about ``1/N`` of it, so their
multiple grows with ``N`` (:func:`central_tolerance`). Cases at logit scale
100 and more skip them: a step of ``eps^(1/3) * |x|`` there measures the
rounding of a loss in the thousands, not the code.

Calibration (``python -m fdl.sweep 8 --seeds 300``: the reference, seeds 0
to 299), worst error as a fraction of its bound: mse 0.16, huber 0.16,
bce_with_logits 0.08, softmax_cross_entropy 0.07, label_smoothing 0.14,
kl_divergence 0.06.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np
import optax

from fdl.check import CENTRAL, Case, CheckContext, Tolerance, vjp_check
from fdl.check.sample import hyper, normal, square_and_not, uniform


# --------------------------------------------------------------------------- oracles (optax, mean over the batch)
def mse_oracle(pred, target):
    return optax.squared_error(pred, target).mean()


def huber_oracle(pred, target, delta=1.0):
    return optax.huber_loss(pred, target, delta=delta).mean()


def bce_oracle(logits, labels):
    return optax.sigmoid_binary_cross_entropy(logits, labels).mean()


def softmax_cross_entropy_oracle(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def label_smoothing_oracle(logits, labels, alpha):
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return optax.softmax_cross_entropy(logits, optax.smooth_labels(onehot, alpha)).mean()


def kl_oracle(log_predictions, targets):
    return optax.kl_divergence(log_predictions, targets).mean()


# --------------------------------------------------------------------------- inputs
# Every list of cases starts with square ones: (n, n) predictions, and logits with as many classes as rows,
# n from 3 to 5. A gradient transposed, labels read as rows (log_p[labels, arange(n)]), or a mean over the
# class axis where the batch axis belongs keep the right shape only there; the oblong cases after them tell
# the batch size N from the class count c (a 1/c in place of 1/N passes a square case). Few shapes, reused
# from seed to seed: each new one is a new program to compile.
def _square_size(rng) -> int:
    return square_and_not(rng, 3, 5)[0][0]


def f32(*arrays):
    """The float arrays as float32 (integer labels stay integers)."""
    return tuple(a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays)


def regression_cases(rng):
    n = _square_size(rng)
    shapes = [(n, n), (2, n, n), (7,), (3, 5), (1,), (2, 3, 4), (1, 1)]
    out = [Case((normal(rng, s, scale=2.0), normal(rng, s)), diff=(0,), label="square" if len(s) > 1 and s[-1] == n
                else "") for s in shapes]
    out.append(Case(f32(normal(rng, (n, n), scale=2.0), normal(rng, (n, n))), diff=(0,),
                    label="square, float32 stays float32"))
    out.append(Case(f32(normal(rng, (6, 3), scale=2.0), normal(rng, (6, 3))), diff=(0,), label="float32 stays float32"))
    return out


def _away_from(err, delta, gap=1e-3):
    """Errors within ``gap`` (relative to delta) of +-delta moved out of that band: a central difference
    straddling the jump in Huber's second derivative would measure its own truncation, not the code."""
    gap = gap * max(delta, 1.0)
    near = np.abs(np.abs(err) - delta) < gap
    return np.where(near, err + np.sign(err) * 2 * gap, err)


# delta anywhere in [0.01, 100], log-spaced, both ends included: a formula right only for delta = 1
# (clip(e, -1, 1), delta (|e| - 1/2)) fails on every other value
DELTA_RANGE = (0.01, 100.0)


def huber_cases(rng):
    n = _square_size(rng)
    out = []
    # each delta on a square case whose errors straddle it (|e| ~ 2 delta: both zones), 2 significant digits
    for delta in hyper(rng, *DELTA_RANGE, 4, log=True):
        delta = float(f"{delta:.2g}")
        target = normal(rng, (n, n))
        out.append(Case((target + _away_from(normal(rng, (n, n), scale=2 * delta), delta), target),
                        {"delta": delta}, diff=(0,), label="square, both zones"))
    for shape, delta, scale in [((7,), None, 2.0), ((3, 5), 0.5, 1.0), ((1,), 1.0, 3.0), ((2, 3, 4), 2.0, 3.0),
                                ((5,), 1.0, 0.3), ((5,), 0.25, 10.0)]:
        target = normal(rng, shape)
        err = _away_from(normal(rng, shape, scale=scale), 1.0 if delta is None else delta)
        kwargs = {} if delta is None else {"delta": delta}
        label = {0.3: "|err| < delta almost everywhere", 10.0: "|err| > delta almost everywhere"}.get(scale, "")
        out.append(Case((target + err, target), kwargs, diff=(0,), label=label))
    # errors exactly at +-delta (binary fractions, so pred - target is exact): the two formulas meet there
    target = rng.integers(-8, 8, (4, 4)) / 4.0
    err = np.array([[0.5, -0.5, 0.25, -1.5]] * 4)
    out.append(Case((target + err, target), {"delta": 0.5}, diff=(0,), numeric=False,
                    label="square, errors exactly at +-delta"))
    p, t = f32(normal(rng, (n, n), scale=2.0), normal(rng, (n, n)))
    out.append(Case((p, t), {"delta": 1.0}, diff=(0,), label="square, float32 stays float32"))
    p, t = f32(normal(rng, (6, 3), scale=20.0), normal(rng, (6, 3)))
    out.append(Case((p, t), {"delta": 10.0}, diff=(0,), label="float32 stays float32"))
    return out


def _hard_labels(rng, shape):
    return rng.integers(0, 2, shape).astype(np.float64)


def bce_cases(rng):
    n = _square_size(rng)
    out = []
    for shape in [(n, n), (9,), (4, 3), (1,), (2, 3, 2)]:
        square = "square, " if shape == (n, n) else ""
        out.append(Case((normal(rng, shape, scale=2.0), _hard_labels(rng, shape)), diff=(0,),
                        label=square + "hard labels"))
        out.append(Case((normal(rng, shape, scale=2.0), uniform(rng, shape, low=0.0, high=1.0)), diff=(0,),
                        label=square + "soft labels"))
    for scale in (100.0, 1000.0):
        x = normal(rng, (5, 4), scale=scale)
        out.append(Case((x, _hard_labels(rng, x.shape)), diff=(0,), numeric=False,
                        label=f"|logits| ~ {scale:g}: log(sigmoid) would be log(0)"))
    x = np.array([-1000.0, -100.0, -40.0, 0.0, 40.0, 100.0, 1000.0])
    out.append(Case((x, np.array([1.0, 0.0, 0.5, 1.0, 0.5, 1.0, 0.0])), diff=(0,), numeric=False,
                    label="extreme logits, every kind of label"))
    x, y = f32(normal(rng, (6, 5), scale=30.0), uniform(rng, (6, 5), low=0.0, high=1.0))
    out.append(Case((x, y), diff=(0,), label="float32 stays float32; |logits| ~ 30 (sigmoid rounds to 0 or 1)"))
    x, y = f32(normal(rng, (n, n), scale=1000.0), _hard_labels(rng, (n, n)))
    out.append(Case((x, y), diff=(0,), label="square, float32, |logits| ~ 1000: exp overflows past 88"))
    return out


def _labels(rng, n, c):
    """Random labels in [0, c) that include both ends of the range when n >= 2."""
    labels = rng.integers(0, c, n)
    if n >= 2:
        labels[0], labels[-1] = 0, c - 1
    return labels


CLASSIFICATION_SHAPES = [  # (n, c)
    (5, 3),
    (1, 7),  # a batch of 1
    (3, 10),  # more classes than rows
    (12, 2),  # more rows than classes
]

# label smoothing's alpha anywhere in [0, 1], both ends included (0: plain cross-entropy, 1: the uniform
# target), two decimals; every value on a square case. The other cases take these in turn.
ALPHA_RANGE = (0.0, 1.0)
OTHER_ALPHAS = [0.1, 0.0, 0.3, 1.0, 0.05, 0.2, 0.0, 0.1, 0.5]


def cross_entropy_cases(smoothing: bool = False):
    """Cases for a loss of (logits, integer labels); with ``smoothing``, an ``alpha=`` keyword per case."""

    def cases(rng):
        n = _square_size(rng)
        alphas = [round(a, 2) for a in hyper(rng, *ALPHA_RANGE, 4)] if smoothing else [None]
        inputs = [(normal(rng, (n, n), scale=2.0), _labels(rng, n, n), "square: as many classes as rows", True, a)
                  for a in alphas]
        inputs += [(normal(rng, (c_n, c), scale=2.0), _labels(rng, c_n, c), "", True, None)
                   for c_n, c in CLASSIFICATION_SHAPES]
        for scale in (100.0, 1000.0):
            inputs.append((normal(rng, (6, 5), scale=scale), _labels(rng, 6, 5),
                           f"|logits| ~ {scale:g}: exp(logits) would overflow", False, None))
        inputs.append((normal(rng, (4, 6)) + 1000.0, _labels(rng, 4, 6),
                       "every logit near 1000: softmax ignores the shift, exp(logits) overflows", False, None))
        logits, labels = f32(normal(rng, (7, 9), scale=100.0), _labels(rng, 7, 9))
        inputs.append((logits, labels, "float32 stays float32; |logits| ~ 100 (exp overflows past 88)", True, None))
        logits, labels = f32(normal(rng, (n, n), scale=1000.0), _labels(rng, n, n))
        inputs.append((logits, labels, "square, float32, |logits| ~ 1000", True, None))
        out = []
        others = iter(OTHER_ALPHAS)
        for logits, labels, label, numeric, alpha in inputs:
            kwargs = {}
            if smoothing:
                kwargs["alpha"] = next(others) if alpha is None else alpha
            named = {0.0: "alpha = 0: plain cross-entropy", 1.0: "alpha = 1: the uniform target"}
            if kwargs.get("alpha") in named:
                label = ", ".join(filter(None, [label, named[kwargs["alpha"]]]))
            out.append(Case((logits, labels), kwargs, diff=(0,), numeric=numeric, label=label))
        return out

    return cases


def _distributions(rng, n, c):
    z = normal(rng, (n, c))
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def kl_cases(rng):
    n = _square_size(rng)
    out = [Case((np.log(_distributions(rng, n, n)), _distributions(rng, n, n)), diff=(0,),
                label="square: as many classes as rows")]
    for rows, c in [(5, 3), (1, 7), (3, 10), (12, 2)]:
        out.append(Case((np.log(_distributions(rng, rows, c)), _distributions(rng, rows, c)), diff=(0,)))
    # targets with exact zeros: 0 log 0 counts as 0
    t = _distributions(rng, 6, 5)
    t[rng.random(t.shape) < 0.4] = 0.0
    t[:, 0] += 0.1  # every row keeps some mass
    t /= t.sum(axis=-1, keepdims=True)
    out.append(Case((np.log(_distributions(rng, 6, 5)), t), diff=(0,), label="some targets exactly 0"))
    onehot = np.eye(n)[_labels(rng, n, n)]
    out.append(Case((np.log(_distributions(rng, n, n)), onehot), diff=(0,), label="square, one-hot targets"))
    # log-predictions down to about -3000: exp() of them is 0, so stay in log space
    z = normal(rng, (5, 4), scale=1000.0)
    log_p = z - z.max(axis=-1, keepdims=True) - np.log(1 + rng.random((5, 1)))
    out.append(Case((log_p, _distributions(rng, 5, 4)), diff=(0,), numeric=False,
                    label="log-predictions ~ -1000"))
    out.append(Case((normal(rng, (3, 4)), _distributions(rng, 3, 4)), diff=(0,),
                    label="log-predictions that are not normalised"))
    lp, t = f32(np.log(_distributions(rng, n, n)), _distributions(rng, n, n))
    out.append(Case((lp, t), diff=(0,), label="square, float32 stays float32"))
    lp, t = f32(np.log(_distributions(rng, 6, 7)), _distributions(rng, 6, 7))
    out.append(Case((lp, t), diff=(0,), label="float32 stays float32"))
    return out


# --------------------------------------------------------------------------- tolerances
MAX_SPREAD = 1e6  # keeps the factor finite where a loss is 0 (a target equal to the prediction)


def _ratio(terms: float, value: float) -> float:
    """terms / |value|, at least 1 and at most MAX_SPREAD."""
    value = abs(value)
    if terms <= value:
        return 1.0
    return MAX_SPREAD if value <= terms / MAX_SPREAD else terms / value


def huber_spread(case: Case) -> float:
    """delta / max|err|: optax's gradient inside the quadratic zone is only accurate to eps * delta."""
    pred, target = case.args
    delta = case.kwargs.get("delta", 1.0)
    return _ratio(delta, float(np.abs(np.asarray(pred, np.float64) - target).max()))


def cross_entropy_spread(case: Case) -> float:
    """sum q (|logsumexp z| + |z|) over sum q (logsumexp z - z), q the (smoothed) target; both as means."""
    logits, labels = case.args
    z = np.asarray(logits, np.float64)
    n, c = z.shape
    alpha = case.kwargs.get("alpha", 0.0)
    q = np.full((n, c), alpha / c)
    q[np.arange(n), labels] += 1 - alpha
    m = z.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))  # (n, 1)
    return _ratio(float((q * (np.abs(lse) + np.abs(z))).sum()), float((q * (lse - z)).sum()))


def bce_spread(case: Case) -> float:
    """max(p + y) over max|p - y|, p = sigmoid(logits): the gradient p - y cancels where p is close to y."""
    x, y = (np.asarray(a, np.float64) for a in case.args)
    p = np.exp(-np.logaddexp(0.0, -x))  # sigmoid without overflow
    return _ratio(float((p + y).max()), float(np.abs(p - y).max()))


def kl_spread(case: Case) -> float:
    """sum t (|log t| + |log p|) over sum t (log t - log p), with 0 log 0 = 0."""
    log_p, t = (np.asarray(a, np.float64) for a in case.args)
    log_t = np.log(np.where(t > 0, t, 1.0))
    return _ratio(float((t * (np.abs(log_t) + np.abs(log_p))).sum()), float((t * (log_t - log_p)).sum()))


def central_tolerance(case: Case) -> Tolerance:
    """Central differences of a mean of N terms: their error grows with N next to a ~1/N gradient."""
    size = np.asarray(case.args[0]).size
    return CENTRAL.scaled(max(1.0, size / 8))


def loss_check(forward: str, backward: str, oracle: Callable, cases: Callable, *, names: list[str],
               tol: Tolerance, spread: Callable[[Case], float] | None = None) -> Callable[[CheckContext], None]:
    """``vjp_check`` one case at a time, each with its tolerances scaled by ``spread(case)``.

    Both: the forward's rounding follows its terms, so central differences of a loss far smaller than its
    terms (a confident, correct row: loss 0.003 from logits near 6) measure that rounding over the step.
    """

    def check(ctx: CheckContext) -> None:
        for case in cases(ctx.rng):
            factor = spread(case) if spread else 1.0
            one = vjp_check(forward, backward, oracle, [case], names=names, tol=tol.scaled(factor),
                            numeric_tol=central_tolerance(case).scaled(factor))
            one(ctx)

    check.__doc__ = f"{forward}/{backward} against optax (jax.vjp) and central differences"
    return check


# 300 seeds: worst error/tolerance beside each (module docstring)
MEAN = Tolerance(8, 8)  # MSE, Huber: a subtraction, a square or a min per element, then a mean (0.16, 0.16)
LOG_LOSS = Tolerance(16, 16)  # CE, label smoothing, KL: an exp and a log per element, a sum, a mean (0.07, 0.14, 0.06)
BCE = Tolerance(16, 64)  # as LOG_LOSS, plus optax's gradient rounding (module docstring) (0.08)

CHECKS = {
    "mse": loss_check("mse_forward", "mse_backward", mse_oracle, regression_cases,
                      names=["pred", "target"], tol=MEAN),
    "huber": loss_check("huber_forward", "huber_backward", huber_oracle, huber_cases,
                        names=["pred", "target"], tol=MEAN, spread=huber_spread),
    "bce_with_logits": loss_check("bce_with_logits_forward", "bce_with_logits_backward", bce_oracle, bce_cases,
                                  names=["logits", "labels"], tol=BCE, spread=bce_spread),
    "softmax_cross_entropy": loss_check("softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
                                        softmax_cross_entropy_oracle, cross_entropy_cases(),
                                        names=["logits", "labels"], tol=LOG_LOSS, spread=cross_entropy_spread),
    "label_smoothing": loss_check("label_smoothing_forward", "label_smoothing_backward", label_smoothing_oracle,
                                  cross_entropy_cases(smoothing=True),
                                  names=["logits", "labels"], tol=LOG_LOSS, spread=cross_entropy_spread),
    "kl_divergence": loss_check("kl_divergence_forward", "kl_divergence_backward", kl_oracle, kl_cases,
                                names=["log_predictions", "targets"], tol=LOG_LOSS, spread=kl_spread),
}
