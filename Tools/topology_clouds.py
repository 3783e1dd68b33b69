"""Point clouds for checking persistent homology: noisy samples of known spaces, with seeds.

Shared by Tools/compare_ripser.py and Tools/bench_topology.sh (which imports it through Python).
"""
import numpy as np


def circle(n, seed, noise=0.05):
    """n points of the unit circle in R^2, Gaussian noise of standard deviation `noise`."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(t), np.sin(t)], axis=1) + noise * rng.standard_normal((n, 2))


def torus(n, seed, noise=0.05):
    """n points of the flat (Clifford) torus (cos a, sin a, cos b, sin b) in R^4, with noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 2 * np.pi, n)
    x = np.stack([np.cos(a), np.sin(a), np.cos(b), np.sin(b)], axis=1)
    return x + noise * rng.standard_normal((n, 4))


def sphere(n, seed, noise=0.02):
    """n points of the unit sphere S^2 in R^3, with noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x + noise * rng.standard_normal((n, 3))


def klein(n, seed, noise=0.02):
    """n points of a Klein bottle embedded in R^4 (the 'figure 8'-free embedding
    ((2 + cos v) cos u, (2 + cos v) sin u, sin v cos(u/2), sin v sin(u/2))), with noise."""
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 2 * np.pi, n)
    x = np.stack([(2 + np.cos(v)) * np.cos(u), (2 + np.cos(v)) * np.sin(u),
                  np.sin(v) * np.cos(u / 2), np.sin(v) * np.sin(u / 2)], axis=1)
    return x + noise * rng.standard_normal((n, 4))


def uniform(n, dimension, seed):
    """n points uniform in the unit cube of R^dimension."""
    return np.random.default_rng(seed).uniform(0, 1, (n, dimension))


def with_duplicates(x, copies, seed):
    """x with `copies` of its rows (chosen with the seed) appended again."""
    rng = np.random.default_rng(seed)
    return np.concatenate([x, x[rng.choice(len(x), copies, replace=False)]])
