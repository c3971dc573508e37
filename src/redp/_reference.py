"""Slow, obviously-correct NumPy references for every compiled or jitted kernel.

Tests compare each backend against the function here on random and edge
inputs. Nothing in this module is used on a fast path. Keep each reference in
its own section, named after the kernel it checks.
"""

from __future__ import annotations

import numpy as np

# --- neighbours (redp.neighbors / csrc/knn.cpp / _kernels/knn.py) -----------

# --- DP-SGD aggregation (redp.mechanisms.clip_scale_sum) --------------------

# --- histograms and sampling (redp.synth) -----------------------------------
