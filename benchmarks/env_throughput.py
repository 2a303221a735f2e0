"""Env throughput: MJX (vmapped, lax.scan) at several batch sizes vs C MuJoCo on the same MJCF.

Peers, measured in the same run on the same machine:
  - C MuJoCo, one `mj_step` loop (1 thread), the way a Gymnasium env steps it;
  - C MuJoCo `mujoco.rollout` with one MjData per core (multi-threaded C++ batch).
All step the engine on the floor from random orientations with random torques, so contacts
are active. Reported in physics steps/s; a control step is 4 physics steps.

    .venv/bin/python benchmarks/env_throughput.py [--batches 64 256 1024 4096] [--steps 200]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx
from mujoco import rollout as mj_rollout
from scipy.spatial.transform import Rotation

from orient_jax.assets import mjcf


def _random_states(model: mujoco.MjModel, n: int, seed: int) -> np.ndarray:
    """n full physics states: random orientations resting near the floor."""
    data = mujoco.MjData(model)
    size = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    states = np.zeros((n, size))
    quats = Rotation.random(n, random_state=seed).as_quat(scalar_first=True)
    for i in range(n):
        mujoco.mj_resetData(model, data)
        data.qpos[3:7] = quats[i]
        data.qpos[2] = mjcf.bounding_radius() * 0.8
        mujoco.mj_getState(model, data, states[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
    return states


def bench_mjx(model: mujoco.MjModel, batch: int, steps: int, seed: int) -> float:
    mx = mjx.put_model(model)
    scale = jnp.asarray(model.actuator_ctrlrange[:, 1])
    quats = jnp.asarray(Rotation.random(batch, random_state=seed).as_quat(scalar_first=True), jnp.float32)
    data = jax.vmap(lambda q: mjx.make_data(mx).replace(
        qpos=jnp.concatenate([jnp.zeros(2), jnp.array([mjcf.bounding_radius() * 0.8]), q])))(quats)

    @jax.jit
    def run(data, key):
        def body(d, k):
            ctrl = jax.random.uniform(k, (batch, 3), minval=-1, maxval=1) * scale
            return jax.vmap(mjx.step, in_axes=(None, 0))(mx, d.replace(ctrl=ctrl)), None

        return jax.lax.scan(body, data, jax.random.split(key, steps))[0]

    jax.block_until_ready(run(data, jax.random.PRNGKey(0)))  # compile
    t = time.perf_counter()
    jax.block_until_ready(run(data, jax.random.PRNGKey(1)))
    return batch * steps / (time.perf_counter() - t)


def bench_mujoco_loop(model: mujoco.MjModel, steps: int, seed: int) -> float:
    data = mujoco.MjData(model)
    state = _random_states(model, 1, seed)[0]
    mujoco.mj_setState(model, data, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    rng = np.random.default_rng(seed)
    ctrl = rng.uniform(-1, 1, (steps, 3)) * model.actuator_ctrlrange[:, 1]
    t = time.perf_counter()
    for i in range(steps):
        data.ctrl[:] = ctrl[i]
        mujoco.mj_step(model, data)
    return steps / (time.perf_counter() - t)


def bench_mujoco_rollout(model: mujoco.MjModel, batch: int, steps: int, seed: int, threads: int) -> float:
    states = _random_states(model, batch, seed)
    rng = np.random.default_rng(seed)
    ctrl = rng.uniform(-1, 1, (batch, steps, 3)) * model.actuator_ctrlrange[:, 1]
    datas = [mujoco.MjData(model) for _ in range(threads)]
    mj_rollout.rollout(model, datas, states[:2], ctrl[:2, :10])  # warm the pool
    t = time.perf_counter()
    mj_rollout.rollout(model, datas, states, ctrl)
    return batch * steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--steps", type=int, default=200, help="physics steps per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args()
    model = mujoco.MjModel.from_xml_path(str(mjcf.MJCF_PATH))
    threads = os.cpu_count() or 1
    loop = bench_mujoco_loop(model, 20 * args.steps, args.seed)
    roll = bench_mujoco_rollout(model, max(args.batches), args.steps, args.seed, threads)
    rows = []
    for b in args.batches:
        sps = bench_mjx(model, b, args.steps, args.seed)
        rows.append({"batch": b, "mjx_steps_per_s": sps, "vs_mujoco_loop": sps / loop, "vs_mujoco_rollout": sps / roll})
    result = {"device": str(jax.devices()[0]), "cpu_count": threads, "mujoco_loop_steps_per_s": loop,
              "mujoco_rollout_steps_per_s": roll, "rollout_threads": threads, "mjx": rows,
              "integrator": mujoco.mjtIntegrator(model.opt.integrator).name, "timestep": model.opt.timestep}
    print(f"C MuJoCo mj_step loop (1 thread): {loop:,.0f} steps/s")
    print(f"C MuJoCo rollout ({threads} threads, batch {max(args.batches)}): {roll:,.0f} steps/s")
    print("| MJX batch | steps/s | x mj_step loop | x rollout |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['mjx_steps_per_s']:,.0f} | {r['vs_mujoco_loop']:.2f} | {r['vs_mujoco_rollout']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
