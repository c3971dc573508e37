"""redp: risk-equalized differentially private synthetic data.

A small part of the privacy budget privately scores how much each record stands
out; the DP generator then weights each record inversely to that risk, so
outliers get tighter per-record privacy bounds while the worst-case guarantee
stays that of the unweighted generator.

The whole flow, then the audit that checks it (the audit reads private data;
its output is not DP):

>>> import numpy as np, redp
>>> from redp.datasets import simulate
>>> table, schema, is_outlier = simulate(4000, rng=0)
>>> members = {c: v[:2000] for c, v in table.items()}
>>> model = redp.REPS(epsilon=3.0, delta=1e-6, schema=schema, rng=0)
>>> synthetic = model.fit(members).sample(2000)
>>> report = model.privacy_report()
>>> bool(report.per_record_epsilon[is_outlier[:2000]].mean() < report.epsilon)
True
>>> enc = schema.encode_distance(schema.validate(table)[0])
>>> S = schema.encode_distance(schema.validate(synthetic)[0])
>>> auc = redp.audit.roc_auc(redp.audit.dcr(enc, S), np.r_[np.ones(2000), np.zeros(2000)])
>>> bool(0.0 <= auc <= 1.0)
True
"""

__version__ = "0.1.0"

from . import accounting, audit, errors, mechanisms  # noqa: F401
from .neighbors import knn
from .pipeline import REPS, PrivacyReport
from .schema import Categorical, Continuous, Integer, Schema, propose_schema

__all__ = [
    "REPS",
    "PrivacyReport",
    "Schema",
    "Continuous",
    "Integer",
    "Categorical",
    "propose_schema",
    "knn",
    "accounting",
    "audit",
    "mechanisms",
    "errors",
]
