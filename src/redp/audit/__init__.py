"""Audits: membership-inference attacks, metrics and utility.

Everything here reads private data (members, non-members, oracle outlierness):
its outputs are **not** differentially private and are for evaluation only.

- :mod:`.attacks`: :func:`dcr`, :func:`density_ratio` (DOMIAS-style) on
  encoded arrays, :func:`run_attacks` on tables; :mod:`.shadow`:
  :func:`shadow` (per-target shadow models, LiRA-style).
- :mod:`.metrics`: :func:`roc_auc`, :func:`roc_curve`, :func:`tpr_at_fpr`,
  :func:`advantage`, :func:`attack_report` (overall and by outlierness decile,
  bootstrap CIs).
- :mod:`.bounds`: :func:`epsilon_lower_bound` (Clopper-Pearson),
  :func:`epsilon_from_scores`, :func:`clopper_pearson`, :func:`beta_ppf`.
- :mod:`.utility`: :func:`tvd_1way`, :func:`tvd_2way`,
  :func:`correlation_difference`, :func:`tstr`, :func:`utility_report`.
- :mod:`.mechanism_audit`: :func:`audit_gaussian_measurement`,
  :func:`audit_dpsgd_step`, :func:`audit_scores` (empirical epsilon lower bounds
  on worst-case neighbouring pairs, checked against the claimed per-record epsilon).
- :mod:`.experiment`: the uniform / REPS / random experiment (``redp experiment``).

Examples
--------
>>> import numpy as np
>>> g = np.random.default_rng(0)
>>> members, non_members = g.random((200, 3)), g.random((200, 3))
>>> synthetic = members + g.normal(scale=0.01, size=members.shape)   # leaks
>>> targets = np.vstack([members, non_members]).astype(np.float32)
>>> labels = np.repeat([1, 0], 200)
>>> scores = dcr(targets, synthetic)
>>> roc_auc(scores, labels) > 0.95
True
>>> oracle = g.random(400)             # e.g. scoring.knn_outlierness(population)
>>> rep = attack_report(scores, labels, oracle, n_bootstrap=20, rng=0)
>>> rep.by_decile("auc").shape
(10,)
"""

from .attacks import ATTACKS, dcr, density_ratio, run_attacks
from .mechanism_audit import AuditResult, audit_dpsgd_step, audit_gaussian_measurement, audit_scores
from .bounds import beta_ppf, betainc, clopper_pearson, epsilon_from_scores, epsilon_lower_bound
from .metrics import AttackReport, advantage, attack_report, roc_auc, roc_curve, tpr_at_fpr
from .shadow import ShadowResult, shadow
from .utility import correlation_difference, tstr, tvd_1way, tvd_2way, utility_report

__all__ = [
    "ATTACKS",
    "AttackReport",
    "AuditResult",
    "audit_dpsgd_step",
    "audit_gaussian_measurement",
    "audit_scores",
    "ShadowResult",
    "advantage",
    "attack_report",
    "beta_ppf",
    "betainc",
    "clopper_pearson",
    "correlation_difference",
    "dcr",
    "density_ratio",
    "epsilon_from_scores",
    "epsilon_lower_bound",
    "roc_auc",
    "roc_curve",
    "run_attacks",
    "shadow",
    "tpr_at_fpr",
    "tstr",
    "tvd_1way",
    "tvd_2way",
    "utility_report",
]
