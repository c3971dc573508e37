"""Weighted DP synthesizers sharing one protocol (:class:`~redp.synth.base.Synthesizer`).

Each accepts per-record weights in ``[0, 1]``: record ``i`` enters every
measured statistic scaled by ``w_i`` while the noise is calibrated to weight 1,
so the worst-case guarantee is the unweighted one and ``privacy_map(weights)``
gives the per-record losses (curator-only, data-dependent).

- :class:`MarginalSynthesizer`: MST-style weighted 1-way and 2-way marginals,
  tree model, ancestral sampling.
- :class:`MixtureSynthesizer`: latent-class mixture trained by weighted DP-SGD.
- :class:`WeightedDPSGD`: the weighted clip-scale-noise step for other models.

Examples
--------
>>> from redp.synth import MarginalSynthesizer, Synthesizer
>>> isinstance(MarginalSynthesizer(), Synthesizer)
True
"""

from .base import Measurement, Synthesizer
from .marginal import MarginalSynthesizer

__all__ = ["Synthesizer", "Measurement", "MarginalSynthesizer", "MixtureSynthesizer", "WeightedDPSGD"]


def __getattr__(name):  # the DP-SGD side loads on first use (keeps `import redp.synth` light)
    if name == "MixtureSynthesizer":
        from .mixture import MixtureSynthesizer

        return MixtureSynthesizer
    if name == "WeightedDPSGD":
        from .dpsgd import WeightedDPSGD

        return WeightedDPSGD
    raise AttributeError(f"module 'redp.synth' has no attribute {name!r}")
