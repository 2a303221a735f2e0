"""The policies checked into models/checkpoints/ load and do their job on fresh starts.

The full claims (>= 95% upright success over 1000 starts) come from
`orient-jax eval` (see README); here a smaller count, on starts the README's numbers did not
use, with bounds that a broken or stale policy fails.
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from orient_jax.rl import evaluate as ev
from orient_jax.rl.checkpoint import load_policy
from orient_jax.rl.policy import make_policy_fn, obs_policy_fn

MODELS = Path(__file__).resolve().parent.parent / "models" / "checkpoints"


@pytest.mark.slow
# goal: 85.9-88.4% over 1000 starts at seeds 0-2 (README); 100 starts sit ~3.5 sigma above 0.74.
@pytest.mark.parametrize("name,bound", [("upright", 0.93), ("goal", 0.74)])
def test_shipped_policy_succeeds_on_fresh_starts(name, bound):
    artifact = load_policy(MODELS / name)
    assert artifact.env_name == name
    result = ev.rollout(name, artifact.env_config, obs_policy_fn(artifact), episodes=100, seed=20261124)
    assert result.success.mean() >= bound, result.summary()


def test_policy_fn_takes_raw_signals_of_either_sign():
    artifact = load_policy(MODELS / "upright")
    policy = make_policy_fn(artifact)
    q = jnp.array([[0.3, -0.2, 0.5, 0.787], [0.0, 0.0, 0.0, 1.0]])
    w = jnp.array([[0.1, -2.0, 0.3], [0.0, 0.0, 0.0]])
    prev = jnp.zeros((2, 3))
    a = np.asarray(policy(q, w, prev))
    assert a.shape == (2, 3) and np.all(np.abs(a) <= 1.0)
    np.testing.assert_allclose(a, policy(-q, w, prev), atol=1e-6)  # q and -q are one rotation
    np.testing.assert_allclose(a, policy(3.0 * q, w, prev), atol=1e-5)  # unnormalized input
