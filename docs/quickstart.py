"""The README's first example: one program, three backends, and the code tensorc wrote."""

import numpy as np

import tensorc as tc

attention = """
S[b, i, j] = Q[b, i, d] * K[b, j, d] / sqrt(dk)
P[b, i, j] = softmax[j](S[b, i, j])
O[b, i, d] = P[b, i, j] * V[b, j, d]
"""

rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((2, 5, 8)).astype(np.float32) for _ in range(3))

reference = tc.compile(attention, backend="numpy")(q, k, 8.0, v)
print("numpy:", reference.shape, reference.dtype)

for backend in ("jax", "torch"):
    f = tc.compile(attention, backend=backend)
    out = np.asarray(f(q, k, 8.0, v))
    print(f"{backend}: max difference from numpy {np.abs(out - reference).max():.2e}")

print(tc.compile(attention, backend="torch").source)
