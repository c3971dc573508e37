import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A fresh, test-specific generator (never the global NumPy state)."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)
