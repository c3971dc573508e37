"""Weighted DP-SGD: the aggregation step and its accountant, arrays in, arrays out.

:class:`WeightedDPSGD` is framework-agnostic: a training loop (NumPy, PyTorch,
JAX, ...) computes per-sample gradients, and redp does the privacy-critical
part: Poisson sampling, clipping, weighting, Gaussian noise, and the privacy
accounting, global and per record.

Two ways to lower record ``i``'s influence with a weight ``w_i`` in ``[0, 1]``:

``influence="scale"`` (default)
    Every record is sampled at rate ``q``; its clipped gradient is multiplied
    by ``w_i``. Record ``i`` sees the effective noise multiplier
    ``sigma / w_i``: ``RDP_i(alpha) = T * R_q(alpha; sigma / w_i)``.
``influence="sample"`` (individualised sampling)
    Record ``i`` is sampled at rate ``q * w_i``; its clipped gradient enters
    with weight 1: ``RDP_i(alpha) = T * R_{q w_i}(alpha; sigma)``.

In both cases the noise is calibrated to the maximum weight 1, so the
worst-case (global) guarantee is that of plain DP-SGD with ``(q, sigma, T)``,
and the noisy sum is divided by the *public* expected batch size
``q * n_public``.

Per-record bounds are conditional on the realised weights and data-dependent:
they are for the data curator, never for a public release.
"""

from __future__ import annotations

import os

import numpy as np

from .. import accounting, mechanisms
from .._validation import as_generator, check_epsilon, check_int, check_real
from ..errors import InputTypeError, ParameterError, PrivacyParameterError

__all__ = ["WeightedDPSGD", "calibrate_noise_multiplier", "individual_sampling_epsilon"]

_INFLUENCES = ("scale", "sample")


def _orders(orders):
    if orders is None:
        return np.asarray(accounting.DEFAULT_ORDERS, dtype=np.float64)
    return np.asarray(orders, dtype=np.float64)


def _check_delta_open(delta, func):
    return check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                      error=PrivacyParameterError)


def _check_rho0(value, name, func):
    return check_real(value, name, func, low=0.0, error=PrivacyParameterError)


def _check_weights(weights, n, func, name="weights"):
    """Weights as a float64 (n,) array in [0, 1]; ``None`` means all ones."""
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(weights)
    if w.dtype.kind not in "biuf":
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a real array. Got dtype {w.dtype} instead."
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 1 or (n is not None and w.shape[0] != n):
        want = "(n,)" if n is None else f"({n},)"
        raise ParameterError(
            f"The '{name}' parameter of {func} must have shape {want}. Got shape {w.shape} instead."
        )
    if w.size and (not np.all(np.isfinite(w)) or w.min() < 0.0 or w.max() > 1.0):
        bad = float(w[~(np.isfinite(w) & (w >= 0.0) & (w <= 1.0))][0])
        raise ParameterError(
            f"The '{name}' parameter of {func} must have every entry in [0.0, 1.0]. "
            f"Got {bad!r} instead."
        )
    return w


def _rdp_to_eps(orders, rdp, delta):
    if not np.any(rdp > 0.0):
        return 0.0
    eps, _ = accounting.rdp_to_epsilon(orders, rdp, delta)
    return float(eps)


def _dpsgd_rdp(q, sigma, steps, orders):
    if steps == 0 or q == 0.0:
        return np.zeros_like(orders)
    return np.asarray(accounting.subsampled_gaussian_rdp(q, sigma, steps, orders), dtype=np.float64)


def individual_sampling_epsilon(weights, delta, *, sample_rate, noise_multiplier, steps,
                                uniform_rho=0.0, orders=None, grid=256):
    """Per-record epsilon of DP-SGD with individualised Poisson sampling.

    Record ``i`` is sampled at rate ``q w_i`` and enters unweighted, so

    .. math::

        \\varepsilon_i = \\mathrm{conv}_\\delta\\big(T\\, R_{q \\bar w_i}(\\alpha; \\sigma)
        + \\alpha\\, \\rho_u\\big),

    where ``R_q`` is the subsampled-Gaussian RDP of :mod:`redp.accounting`,
    ``rho_u`` a zCDP amount every record paid elsewhere (stage-1 scoring) and
    ``w_bar_i = ceil(grid * w_i) / grid`` the weight rounded *up* to the public
    grid (records with equal buckets share one accountant call, and rounding up
    never understates the loss).

    Parameters
    ----------
    weights : array_like of float, shape (n,)
        Realised weights in ``[0, 1]``.
    delta : float
        Target delta in ``(0, 1)``.
    sample_rate, noise_multiplier : float
        DP-SGD's base rate ``q`` and noise multiplier ``sigma``.
    steps : int
        Number of steps ``T`` taken.
    uniform_rho : float, default 0.0
        zCDP already spent by every record.
    orders : array_like of float, optional
        RDP orders; default :data:`redp.accounting.DEFAULT_ORDERS`.
    grid : int, default 256
        Weight grid resolution.

    Returns
    -------
    epsilon : ndarray of float64, shape (n,)
        Per-record epsilon (curator-only; data-dependent).

    Examples
    --------
    >>> import numpy as np
    >>> eps = individual_sampling_epsilon([1.0, 0.5, 0.0], 1e-5, sample_rate=0.01,
    ...                                   noise_multiplier=1.0, steps=100)
    >>> bool(eps[0] > eps[1] > eps[2] == 0.0)
    True
    """
    func = "individual_sampling_epsilon"
    w = _check_weights(weights, None, func)
    delta = _check_delta_open(delta, func)
    q = check_real(sample_rate, "sample_rate", func, low=0.0, high=1.0, low_open=True,
                   error=PrivacyParameterError)
    sigma = check_real(noise_multiplier, "noise_multiplier", func, low=0.0, low_open=True,
                       error=PrivacyParameterError)
    steps = check_int(steps, "steps", func, low=0)
    uniform_rho = _check_rho0(uniform_rho, "uniform_rho", func)
    grid = check_int(grid, "grid", func, low=1)
    orders = _orders(orders)
    buckets = np.ceil(w * grid).astype(np.int64)  # exact for a power-of-two grid
    buckets += buckets / grid < w  # other grids: never round a weight down
    present = np.flatnonzero(np.bincount(buckets, minlength=grid + 1))
    table = np.zeros(grid + 1)
    for b in present:
        rdp = _dpsgd_rdp(min(1.0, q * int(b) / grid), sigma, steps, orders) + orders * uniform_rho
        table[b] = _rdp_to_eps(orders, rdp, delta)
    return table[buckets]


def calibrate_noise_multiplier(epsilon, delta, sample_rate, steps, prior_rho=0.0, *, orders=None):
    """Smallest noise multiplier meeting ``(epsilon, delta)`` after ``prior_rho``.

    Solves for ``sigma`` such that

    .. math::

        \\mathrm{conv}_\\delta\\big(\\alpha\\, \\rho_0 + T\\, R_q(\\alpha; \\sigma)\\big) \\le \\varepsilon,

    where ``rho_0 = prior_rho`` is zCDP already spent (entering as RDP
    ``alpha * rho_0``). The search is :func:`redp.accounting.calibrate_dpsgd`'s,
    so the answer never overshoots.

    Parameters
    ----------
    epsilon : float
        Target epsilon, ``> 0``.
    delta : float
        Target delta in ``(0, 1)``.
    sample_rate : float
        Poisson rate ``q`` in ``(0, 1]``.
    steps : int
        Number of steps ``T >= 1``.
    prior_rho : float, default 0.0
        zCDP spent before DP-SGD (for example on private scoring).
    orders : array_like of float, optional
        RDP orders; default :data:`redp.accounting.DEFAULT_ORDERS`.

    Returns
    -------
    noise_multiplier : float

    Raises
    ------
    BudgetExceededError
        If ``prior_rho`` alone already uses up ``epsilon`` at ``delta``.

    Examples
    --------
    >>> s0 = calibrate_noise_multiplier(2.0, 1e-5, 0.01, 1000)
    >>> s1 = calibrate_noise_multiplier(2.0, 1e-5, 0.01, 1000, prior_rho=0.01)
    >>> bool(s1 > s0 > 0)
    True
    """
    func = "calibrate_noise_multiplier"
    epsilon = check_epsilon(epsilon, func)
    delta = _check_delta_open(delta, func)
    q = check_real(sample_rate, "sample_rate", func, low=0.0, high=1.0, low_open=True,
                   error=PrivacyParameterError)
    steps = check_int(steps, "steps", func, low=1)
    prior_rho = _check_rho0(prior_rho, "prior_rho", func)
    return float(accounting.calibrate_dpsgd(epsilon, delta, q, steps, _orders(orders), prior_rho=prior_rho))


class _SecureUniform:
    """Uniform [0, 1) doubles from the operating system's CSPRNG (``os.urandom``)."""

    @staticmethod
    def random(n):
        bits = np.frombuffer(os.urandom(8 * int(n)), dtype=np.uint64)
        return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


class WeightedDPSGD:
    """Weighted DP-SGD aggregation step and accountant (framework-agnostic).

    Each step: Poisson-sample a batch; clip every per-sample gradient to L2 norm
    ``C``; multiply by ``w_i`` (``influence="scale"``) or by 1
    (``influence="sample"``, where the *sampling rate* is ``q w_i`` instead); sum;
    add ``N(0, sigma^2 C^2 I)``; divide by the public expected batch size
    ``q * n_public``:

    .. math::

        \\tilde g = \\frac{1}{q\\, n_{pub}}\\Big(\\sum_{i \\in B} w_i\\,
        \\mathrm{clip}_C(g_i) + \\mathcal N(0, \\sigma^2 C^2 I)\\Big).

    Parameters
    ----------
    noise_multiplier : float
        ``sigma > 0`` (see :meth:`calibrate`).
    max_grad_norm : float
        Clipping norm ``C > 0``.
    sample_rate : float
        Poisson rate ``q`` in ``(0, 1]``.
    n_public : int
        A *public* dataset size (or public bound) used for the expected batch
        size; never ``len`` of private data unless that size is itself public.
    influence : {"scale", "sample"}, default "scale"
        How a weight lowers a record's influence (see the module docstring).
    rng : None, "secure", int, numpy SeedSequence or Generator
        Randomness for batch sampling and noise. ``None``/``"secure"`` (default)
        draws noise through :mod:`redp.mechanisms`' secure mode and batches from
        ``os.urandom``; a seed or Generator is reproducible, for tests and
        research only (it emits one :class:`~redp.errors.InsecureRandomnessWarning`
        per process). A seed ``s`` gives the noise stream
        ``default_rng(s).spawn(2)[0]`` and the batch stream ``[1]``.

    Attributes
    ----------
    steps : int
        Number of :meth:`step` calls so far (what the accountant charges).

    Examples
    --------
    >>> import numpy as np
    >>> opt = WeightedDPSGD(noise_multiplier=1.0, max_grad_norm=1.0, sample_rate=0.1,
    ...                     n_public=100, rng=0)
    >>> w = np.linspace(0.2, 1.0, 100)
    >>> idx = opt.sample_batch(100, w)
    >>> g = opt.step(np.ones((idx.size, 3)), w[idx])
    >>> g.shape, opt.steps
    ((3,), 1)
    >>> bool(opt.per_record_epsilon(w, 1e-5).max() == opt.epsilon(1e-5))
    True

    Inside a PyTorch loop, with per-sample gradients from ``torch.func`` (PyTorch is
    not a dependency of redp; this is an illustration, not a doctest):

    .. code-block:: python

        import torch
        from torch.func import functional_call, grad, vmap
        from redp.synth.dpsgd import WeightedDPSGD

        params = {k: v.detach() for k, v in model.named_parameters()}
        sigma = WeightedDPSGD.calibrate(epsilon=3.0, delta=1e-6, sample_rate=q, steps=T)
        dp = WeightedDPSGD(sigma, max_grad_norm=1.0, sample_rate=q,
                           n_public=N_PUBLIC, rng="secure")
        per_example = vmap(grad(lambda p, x, y: loss_fn(functional_call(model, p, (x[None],)),
                                                        y[None])), in_dims=(None, 0, 0))
        for _ in range(T):
            idx = dp.sample_batch(n, weights)                     # Poisson batch
            grads = per_example(params, X[idx], Y[idx])           # dict of (B, ...) tensors
            flat = torch.cat([g.reshape(len(idx), -1) for g in grads.values()], dim=1)
            noisy = dp.step(flat.double().cpu().numpy(), weights[idx])  # (p,) float64
            offset = 0
            for name, p in params.items():                        # SGD (or feed an optimiser)
                k = p.numel()
                p -= lr * torch.as_tensor(noisy[offset:offset + k], dtype=p.dtype).view_as(p)
                offset += k
        print(dp.epsilon(1e-6), dp.per_record_epsilon(weights, 1e-6))
    """

    def __init__(self, noise_multiplier, max_grad_norm, sample_rate, n_public, influence="scale",
                 rng=None):
        func = "WeightedDPSGD"
        self.noise_multiplier = check_real(noise_multiplier, "noise_multiplier", func, low=0.0,
                                           low_open=True, error=PrivacyParameterError)
        self.max_grad_norm = check_real(max_grad_norm, "max_grad_norm", func, low=0.0,
                                        low_open=True, error=PrivacyParameterError)
        self.sample_rate = check_real(sample_rate, "sample_rate", func, low=0.0, high=1.0,
                                      low_open=True, error=PrivacyParameterError)
        self.n_public = check_int(n_public, "n_public", func, low=1)
        if influence not in _INFLUENCES:
            raise ValueError(
                f"The 'influence' parameter of {func} must be one of {_INFLUENCES}. "
                f"Got {influence!r} instead."
            )
        self.influence = influence
        resolved = mechanisms.resolve_rng(rng, func)  # validates; warns once if seeded
        if isinstance(resolved, str):  # None or "secure": the OS CSPRNG for noise and batches
            self._noise_rng = resolved
            self._batch_rng = _SecureUniform()
        else:
            self._noise_rng, self._batch_rng = resolved.spawn(2)
        self.steps = 0

    # -- construction from a budget ---------------------------------------------------
    @staticmethod
    def calibrate(epsilon, delta, sample_rate, steps, prior_rho=0.0):
        """Noise multiplier for ``(epsilon, delta)``; see :func:`calibrate_noise_multiplier`.

        Examples
        --------
        >>> s = WeightedDPSGD.calibrate(1.0, 1e-5, 0.01, 500)
        >>> opt = WeightedDPSGD(s, 1.0, 0.01, 10_000, rng=0)
        >>> opt.steps = 500
        >>> bool(opt.epsilon(1e-5) <= 1.0)
        True
        """
        return calibrate_noise_multiplier(epsilon, delta, sample_rate, steps, prior_rho)

    @property
    def expected_batch_size(self) -> float:
        """The public expected batch size ``q * n_public`` (the step's divisor)."""
        return self.sample_rate * self.n_public

    # -- the step -----------------------------------------------------------------
    def sample_batch(self, n, weights=None, rng=None):
        """Poisson-sample a batch of row indices (sorted int64).

        Row ``i`` is included independently with probability ``q``
        (``influence="scale"``) or ``q * w_i`` (``influence="sample"``).

        Parameters
        ----------
        n : int
            Number of rows held (the private size; used only to index).
        weights : array_like of float, shape (n,), optional
            Per-record weights; required by ``influence="sample"``.
        rng : None, int or numpy Generator, optional
            Overrides this object's batch stream for this call.

        Returns
        -------
        indices : ndarray of int64

        Examples
        --------
        >>> opt = WeightedDPSGD(1.0, 1.0, 0.5, 10, influence="sample", rng=0)
        >>> idx = opt.sample_batch(4, [1.0, 0.0, 1.0, 0.0])
        >>> set(idx.tolist()) <= {0, 2}
        True
        """
        func = "WeightedDPSGD.sample_batch"
        n = check_int(n, "n", func, low=0)
        if self.influence == "sample":
            if weights is None:
                raise ParameterError(
                    f"The 'weights' parameter of {func} is required with influence='sample'. "
                    "Got None instead."
                )
            w = _check_weights(weights, n, func)
        else:
            if weights is not None:  # validated for early errors, not used: every rate is q
                _check_weights(weights, n, func)
            w = None
        src = self._batch_rng if rng is None else as_generator(rng, func)
        return self._poisson(n, w, src)

    def _poisson(self, n, w, src):
        """Poisson sampling on validated inputs (``w`` None: every rate is ``q``)."""
        q = self.sample_rate
        if isinstance(src, _SecureUniform):
            u = src.random(n)
            return np.flatnonzero(u < (q if w is None else q * w)).astype(np.int64)
        # Exact Poisson sampling in O(q n): a Binomial(n, q) count, then a uniform subset
        # of that size; the "sample" variant then keeps row i with probability w_i.
        count = int(src.binomial(n, q)) if n else 0
        if count == 0:
            return np.empty(0, dtype=np.int64)
        idx = np.sort(src.choice(n, size=count, replace=False)).astype(np.int64)
        if w is not None:
            idx = idx[src.random(idx.size) < w[idx]]
        return idx

    def step(self, per_sample_grads, weights=None):
        """One noisy aggregate: clip, weight, sum, add noise, divide by ``q n_public``.

        Parameters
        ----------
        per_sample_grads : array_like, shape (B, p)
            Per-example gradients of the sampled batch (float32 or float64).
        weights : array_like of float, shape (B,), optional
            The batch rows' weights (``influence="scale"``); ignored with
            ``influence="sample"`` (its weights acted through the sampling rate).
            Default: all ones.

        Returns
        -------
        gradient : ndarray of float64, shape (p,)
            The noisy mean gradient. Each call is charged: :attr:`steps` += 1.

        Examples
        --------
        >>> import numpy as np
        >>> opt = WeightedDPSGD(1.0, 1.0, 0.5, 4, rng=0)
        >>> opt.step(np.zeros((0, 2))).shape      # an empty batch still gets noise
        (2,)
        """
        func = "WeightedDPSGD.step"
        g = np.asarray(per_sample_grads)
        if g.dtype.kind not in "biuf":
            raise InputTypeError(
                f"The 'per_sample_grads' parameter of {func} must be a real array. "
                f"Got dtype {g.dtype} instead."
            )
        if g.ndim != 2:
            raise ValueError(
                f"The 'per_sample_grads' parameter of {func} must be a 2-D array (B, p). "
                f"Got shape {g.shape} instead."
            )
        if g.dtype.kind != "f":
            g = g.astype(np.float64)
        g = np.ascontiguousarray(g)  # finiteness is checked by redp.mechanisms (raises, no charge)
        b = g.shape[0]
        if self.influence == "sample" or weights is None:
            w = np.ones(b, dtype=np.float64)
        else:
            w = _check_weights(weights, b, func)
        out = mechanisms.noisy_weighted_mean(g, w, self.max_grad_norm, self.noise_multiplier,
                                       self.expected_batch_size, self._noise_rng)
        self.steps += 1
        return np.asarray(out, dtype=np.float64)

    # -- accounting ---------------------------------------------------------------
    def _rdp(self, orders):
        return _dpsgd_rdp(self.sample_rate, self.noise_multiplier, self.steps, orders)

    def epsilon(self, delta, uniform_rho=0.0):
        """Global epsilon at ``delta`` after :attr:`steps` steps (subsampled-Gaussian RDP).

        ``uniform_rho`` (zCDP spent elsewhere by every record) is added as RDP
        ``alpha * rho`` before conversion. The same for both influence modes:
        the maximum weight is 1.

        Examples
        --------
        >>> opt = WeightedDPSGD(1.0, 1.0, 0.01, 1000, rng=0)
        >>> opt.epsilon(1e-5)
        0.0
        >>> opt.steps = 1000
        >>> 0 < opt.epsilon(1e-5) < opt.epsilon(1e-5, uniform_rho=0.05)
        True
        """
        func = "WeightedDPSGD.epsilon"
        delta = _check_delta_open(delta, func)
        uniform_rho = _check_rho0(uniform_rho, "uniform_rho", func)
        orders = _orders(None)
        return _rdp_to_eps(orders, self._rdp(orders) + orders * uniform_rho, delta)

    def per_record_epsilon(self, weights, delta, uniform_rho=0.0):
        """Per-record epsilon given realised weights (curator-only, data-dependent).

        ``influence="scale"``: ``RDP_i = T R_q(alpha; sigma / w_i)`` via
        :func:`redp.accounting.per_record_epsilon`; ``influence="sample"``:
        ``RDP_i = T R_{q w_i}(alpha; sigma)`` via
        :func:`individual_sampling_epsilon`. Weights are bucketed on the public
        1/256 grid, rounded up. A record with ``w_i = 1`` gets the global epsilon.

        Examples
        --------
        >>> opt = WeightedDPSGD(1.0, 1.0, 0.01, 1000, rng=0)
        >>> opt.steps = 1000
        >>> eps = opt.per_record_epsilon([1.0, 0.5], 1e-5)
        >>> bool(eps[1] < eps[0])
        True
        """
        func = "WeightedDPSGD.per_record_epsilon"
        w = _check_weights(weights, None, func)
        delta = _check_delta_open(delta, func)
        uniform_rho = _check_rho0(uniform_rho, "uniform_rho", func)
        if self.influence == "sample":
            return individual_sampling_epsilon(
                w, delta, sample_rate=self.sample_rate, noise_multiplier=self.noise_multiplier,
                steps=self.steps, uniform_rho=uniform_rho,
            )
        if self.steps == 0:
            orders = _orders(None)
            return np.full(w.shape[0], _rdp_to_eps(orders, orders * uniform_rho, delta))
        return np.asarray(
            accounting.per_record_epsilon(
                w, delta, dpsgd=(self.sample_rate, self.noise_multiplier, self.steps),
                uniform_rho=uniform_rho,
            ),
            dtype=np.float64,
        )

    @property
    def accounting(self) -> dict:
        """What the per-record ledger needs: ``q``, ``noise_multiplier``, ``steps``, ``influence``."""
        return dict(q=self.sample_rate, noise_multiplier=self.noise_multiplier, steps=self.steps,
                    influence=self.influence)

    def __repr__(self):
        return (f"WeightedDPSGD(noise_multiplier={self.noise_multiplier!r}, "
                f"max_grad_norm={self.max_grad_norm!r}, sample_rate={self.sample_rate!r}, "
                f"n_public={self.n_public!r}, influence={self.influence!r}, steps={self.steps})")
