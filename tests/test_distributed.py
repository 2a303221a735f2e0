"""Multi-process training through jax.distributed: 2 processes on 127.0.0.1 (gloo collectives)
train the same policy, bit for bit, as 1 process with the same 2 devices."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from orient_jax.rl.checkpoint import load_policy

CLI = [sys.executable, "-m", "orient_jax.cli"]
TRAIN = ["train", "--preset", "tiny", "--set", f"ppo.total_steps={32 * 16 * 3}", "--checkpoint-every", "2", "--no-progress"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leaves(policy_dir):
    artifact = load_policy(policy_dir)
    return [np.asarray(x) for x in jax.tree.leaves((artifact.actor_params, artifact.obs_norm))]


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains(tmp_path):
    base_flags = os.environ.get("XLA_FLAGS", "")  # the suite's own (tests/conftest.py), same for both runs
    one_env = {**os.environ, "XLA_FLAGS": f"{base_flags} --xla_force_host_platform_device_count=2"}
    one = subprocess.Popen(CLI + TRAIN + ["--workdir", str(tmp_path / "one")], env=one_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = _free_port()
    procs = [subprocess.Popen(CLI + TRAIN + ["--workdir", str(tmp_path / "two"), "--coordinator", f"127.0.0.1:{port}",
                                             "--num-processes", "2", "--process-id", str(i)],
                              env={**os.environ, "XLA_FLAGS": base_flags},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=900)[0] for p in [one, *procs]]
    for p, out in zip([one, *procs], outputs):
        assert p.returncode == 0, out[-3000:]
    assert "policy written" in outputs[1] and "policy written" not in outputs[2]  # process 0 reports
    assert "32 envs on 2 device(s)\n" in outputs[0] and "32 envs on 2 device(s) in 2 processes" in outputs[1]

    single, multi = _leaves(tmp_path / "one" / "policy"), _leaves(tmp_path / "two" / "policy")
    assert len(single) == len(multi)
    for a, b in zip(single, multi):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # The collective checkpoint holds both processes' env shards; only process 0 wrote logs.
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["2", "3"]
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) == 3


def test_partial_distributed_arguments_are_one_clear_line():
    out = subprocess.run(CLI + ["train", "--preset", "tiny", "--coordinator", "127.0.0.1:1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "--num-processes" in out.stderr
