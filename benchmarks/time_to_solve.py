"""Time to 95% success: orient_jax's JAX PPO (and SHAC, `--shac`) vs Stable-Baselines3 PPO.

Both train the `upright` task on this machine, one after the other (never at once), each
under the same wall-clock budget, and each is stopped as soon as its success rate over its
most recent 200 finished training episodes (the stochastic policy, as trained) reaches 95%:

  ours  orient_jax.rl.train.train_and_evaluate(RunConfig(env="upright"), default upright
        EnvConfig, preset --ours-preset) in a fresh temp workdir, run in a child process
        (so it can be stopped at 95%). The clock starts just before that call, so it
        includes building the env and JIT compilation (part of the user's wait). Rolling
        success comes from <workdir>/metrics.jsonl: per update, "episode/success" weighted
        by "episode/count", over the fewest latest updates holding >= 200 episodes.
  peer  benchmarks/sb3_peer/run_sb3.py in a Python 3.11 venv (benchmarks/sb3_peer/.venv,
        created here if missing: CPU torch 2.13.0, stable-baselines3, gymnasium, mujoco):
        SB3 PPO on benchmarks/sb3_peer/orient_gym.py, a Gymnasium env stepping the same
        MJCF with C MuJoCo and the same reset, randomization, noise, observation, reward
        and success rule (success = the 1 s hold completed at any point of the episode).
        Its clock starts just before it builds its envs.

  shac  with --shac: orient_jax's SHAC (`--algo shac`, preset --shac-preset), run like ours.

Each orient_jax run starts from an empty JAX compilation cache (cold: what a first run on a
machine pays); with --warm, each is run a second time on the cache the first one filled.

Prints a markdown table (time to 95%, env steps to 95%, env steps/s, peer/ours ratios)
and, with --json, writes the numbers, the learning curves and the command line.

    .venv/bin/python benchmarks/time_to_solve.py                       # quick preset, 30 min each
    .venv/bin/python benchmarks/time_to_solve.py --time-budget-s 600 --json out.json
    .venv/bin/python benchmarks/time_to_solve.py --ours-preset tiny --skip-peer   # smoke test
    .venv/bin/python benchmarks/time_to_solve.py --shac --warm --json benchmarks/results/time_to_solve.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEER_DIR = REPO / "benchmarks" / "sb3_peer"
PEER_VENV = PEER_DIR / ".venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
MUJOCO_VERSION = "3.14.0"  # the main venv's (pyproject.toml); the peer gets the same C library if a cp311 wheel exists
TORCH_VERSION = "2.13.0"  # resolves to the local CPU wheel (+cpu) for Python 3.11 on this machine


# ----- peer venv --------------------------------------------------------------------------
def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def find_python311(explicit: str | None) -> str:
    """A Python 3.11 interpreter: --peer-python, then pyenv's versions/3.11*, then python3.11."""
    candidates = [explicit] if explicit else []
    if not explicit:
        roots = []
        if shutil.which("pyenv"):
            out = _run(["pyenv", "root"])
            if out.returncode == 0 and out.stdout.strip():
                roots.append(Path(out.stdout.strip()))
        roots.append(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")))
        for root in roots:
            candidates += [str(p) for p in sorted((root / "versions").glob("3.11*/bin/python"), reverse=True)]
        candidates += [p for p in (shutil.which("python3.11"),) if p]
    for cand in candidates:
        out = _run([cand, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]) if Path(cand).exists() or shutil.which(cand) else None
        if out is not None and out.returncode == 0 and out.stdout.strip() == "3.11":
            return cand
    raise SystemExit("no Python 3.11 found (tried pyenv versions/3.11* and python3.11); pass --peer-python")


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def pick_mujoco_version(pip: list[str]) -> tuple[str, str]:
    """(version, note): MUJOCO_VERSION if pip finds a wheel for the peer's Python, else the
    closest 3.x that has one."""
    ok = _run(pip + ["install", "--dry-run", "--only-binary=:all:", "--no-deps", f"mujoco=={MUJOCO_VERSION}"])
    if ok.returncode == 0:
        return MUJOCO_VERSION, f"mujoco {MUJOCO_VERSION}: cp311 wheel found"
    listing = _run(pip + ["index", "versions", "mujoco", "--only-binary=:all:"])
    found = re.search(r"Available versions:\s*(.+)", listing.stdout)
    versions = [v.strip() for v in found.group(1).split(",")] if found else []
    versions = [v for v in versions if re.fullmatch(r"3\.\d+\.\d+", v)]
    if not versions:
        raise SystemExit(f"no mujoco 3.x wheel for the peer's Python:\n{ok.stderr[-2000:]}")
    target = _version_key(MUJOCO_VERSION)
    best = min(versions, key=lambda v: (abs(_version_key(v)[1] - target[1]), abs(_version_key(v)[2] - target[2]), -_version_key(v)[1]))
    return best, f"mujoco {MUJOCO_VERSION} has no cp311 wheel; using the closest, {best}"


def ensure_peer_venv(args) -> dict:
    """Create benchmarks/sb3_peer/.venv if it lacks the peer's packages; return their versions."""
    probe = ("import json, sys, torch, stable_baselines3, gymnasium, mujoco, numpy; print(json.dumps({'python': "
             "sys.version.split()[0], 'torch': torch.__version__, 'stable_baselines3': stable_baselines3.__version__, "
             "'gymnasium': gymnasium.__version__, 'mujoco': mujoco.__version__, 'numpy': numpy.__version__}))")
    if PEER_PYTHON.exists():
        out = _run([str(PEER_PYTHON), "-c", probe])
        if out.returncode == 0:
            return {**json.loads(out.stdout.strip().splitlines()[-1]), "note": "existing venv"}
        if args.skip_peer_install:
            raise SystemExit(f"{PEER_VENV} is incomplete and --skip-peer-install was given:\n{out.stderr[-1500:]}")
    elif args.skip_peer_install:
        raise SystemExit(f"{PEER_VENV} does not exist and --skip-peer-install was given")
    python = find_python311(args.peer_python)
    print(f"[peer] creating {PEER_VENV.relative_to(REPO)} with {python}", file=sys.stderr)
    if not PEER_PYTHON.exists():
        subprocess.run([python, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(PEER_PYTHON), "-m", "pip"]
    mujoco_version, note = pick_mujoco_version(pip)
    print(f"[peer] {note}", file=sys.stderr)
    packages = [f"torch=={TORCH_VERSION}", "stable-baselines3", "gymnasium", f"mujoco=={mujoco_version}", "numpy"]
    # Guard: never pull a CUDA torch (GBs of nvidia-* wheels). Resolve first, then install.
    report = _run(pip + ["install", "--dry-run", "--quiet", "--report", "-"] + packages)
    if report.returncode != 0:
        raise SystemExit(f"pip cannot resolve {packages}:\n{report.stderr[-2000:]}")
    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(report.stdout).get("install", [])}
    cuda = sorted(n for n in chosen if n.startswith("nvidia-") or n == "triton")
    if cuda or ("torch" in chosen and "+cpu" not in chosen["torch"]):
        raise SystemExit(f"pip would install a CUDA torch ({chosen.get('torch')}, {cuda[:5]}...): refusing. "
                         "Make a CPU torch wheel available (pip find-links) or install it into the venv by hand.")
    print(f"[peer] pip install {' '.join(packages)} (torch {chosen.get('torch', 'already there')})", file=sys.stderr)
    subprocess.run(pip + ["install", "--quiet"] + packages, check=True)
    out = _run([str(PEER_PYTHON), "-c", probe])
    if out.returncode != 0:
        raise SystemExit(f"peer venv still broken after install:\n{out.stderr[-2000:]}")
    versions = json.loads(out.stdout.strip().splitlines()[-1])
    versions["note"] = note
    return versions


# ----- rolling success ----------------------------------------------------------------------
def rolling_success(updates: list[dict], window: int) -> list[dict]:
    """Per update: success over the fewest latest updates holding >= `window` episodes
    (weighted by "episode/count"); None until that many episodes have ended."""
    out, recent, count, wins = [], collections.deque(), 0.0, 0.0
    for rec in updates:
        c = float(rec.get("episode/count", 0.0))
        recent.append((c, c * float(rec.get("episode/success", 0.0))))
        count += c
        wins += recent[-1][1]
        while recent and count - recent[0][0] >= window:
            old = recent.popleft()
            count -= old[0]
            wins -= old[1]
        out.append({"env_steps": int(rec["env_steps"]), "time": float(rec["time"]),
                    "rolling_success": wins / count if count >= window else None, "window_episodes": int(round(count))})
    return out


# ----- ours ----------------------------------------------------------------------------------
def ours_worker(args) -> int:
    """Child process: train orient_jax's PPO (or SHAC) in args.worker_dir (the parent watches and stops it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from orient_jax import compile_cache, sim
    from orient_jax.rl.presets import preset
    from orient_jax.rl.train import RunConfig, train_and_evaluate

    compile_cache.enable()  # the folder the parent chose (ORIENT_JAX_COMPILE_CACHE): cold or warm
    changes = {"seed": args.seed}
    if args.ours_total_steps and args.ours_algo == "ppo":
        changes["total_steps"] = args.ours_total_steps
    ppo = preset(args.ours_preset, args.ours_algo, **changes)
    env_config = sim.default_config("upright")
    workdir = Path(args.worker_dir)
    start = {"t_start": time.time(), "preset": args.ours_preset, "total_steps": ppo.total_steps,
             "num_envs": ppo.num_envs, "steps_per_update": ppo.steps_per_update}
    (workdir / "start.json").write_text(json.dumps(start))
    train_and_evaluate(RunConfig(env="upright"), env_config, ppo, workdir / "run", show_progress=False)
    (workdir / "end.json").write_text(json.dumps({"t_end": time.time()}))
    return 0


def _stop(proc: subprocess.Popen) -> None:
    """Stop a child we started (its own process group), politely first."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def run_ours(args, tmp: Path, algo: str = "ppo", cache: Path | None = None, name: str = "ours") -> dict:
    """One orient_jax training run (`algo`, its preset) in a child process, stopped at the target;
    `cache`: the JAX compilation cache folder it uses (empty: a cold start)."""
    workdir = tmp / name
    workdir.mkdir()
    preset_name = args.ours_preset if algo == "ppo" else args.shac_preset
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_ours-worker", "--_worker-dir", str(workdir),
           "--ours-preset", preset_name, "--ours-algo", algo, "--seed", str(args.seed)]
    if args.ours_total_steps:
        cmd += ["--ours-total-steps", str(args.ours_total_steps)]
    load = os.getloadavg()[0]
    cache = cache or (tmp / f"xla-{name}")
    warm = cache.is_dir() and any(cache.iterdir())
    print(f"[{name}] orient_jax {algo.upper()}, preset {preset_name}, {'warm' if warm else 'cold'} compile cache "
          f"(budget {args.time_budget_s:.0f} s, load avg {load:.2f})", file=sys.stderr)
    stderr_path = workdir / "stderr.log"
    env = {**os.environ, "ORIENT_JAX_COMPILE_CACHE": str(cache)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    with stderr_path.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=err, stderr=err, start_new_session=True, env=env)
    metrics_path = workdir / "run" / "metrics.jsonl"
    start, updates, curve, solved, stopped_by = None, [], [], None, None
    offset, buffer, t_launch, last_print = 0, "", time.time(), 0.0
    try:
        while True:
            alive = proc.poll() is None
            if start is None and (workdir / "start.json").exists():
                start = json.loads((workdir / "start.json").read_text())
            if metrics_path.exists():
                with metrics_path.open() as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                new = [json.loads(line) for line in lines if line.strip()]
                if new:
                    updates += new
                    curve = rolling_success(updates, args.window)
                    for point in curve[len(curve) - len(new):]:
                        if solved is None and point["rolling_success"] is not None and point["rolling_success"] >= args.target:
                            solved = point
                    last = curve[-1]
                    if time.time() - last_print > 30:
                        last_print = time.time()
                        rs = "n/a" if last["rolling_success"] is None else f"{last['rolling_success']:.1%}"
                        print(f"[{name}] {last['time'] - start['t_start']:7.1f} s  {last['env_steps']:>10,} steps  "
                              f"rolling success {rs}", file=sys.stderr)
            if solved is not None:
                stopped_by = "target"
                break
            if not alive:
                stopped_by = "total_steps" if proc.returncode == 0 else f"exit code {proc.returncode}"
                break
            if start is not None and time.time() - start["t_start"] > args.time_budget_s:
                stopped_by = "time_budget"
                break
            if start is None and time.time() - t_launch > 600:
                stopped_by = "did not start within 600 s"
                break
            time.sleep(0.5)
    finally:
        _stop(proc)
    if stopped_by.startswith(("exit code", "did not")):
        tail = stderr_path.read_text()[-3000:]
        raise SystemExit(f"[{name}] training failed ({stopped_by}):\n{tail}")
    t0 = start["t_start"]
    last = curve[-1] if curve else {"env_steps": 0, "time": time.time(), "rolling_success": None}
    elapsed = (last["time"] - t0) if stopped_by in ("target", "total_steps") else args.time_budget_s
    steady = [u["steps_per_s"] for u in updates[1:]]
    return {
        "framework": f"orient_jax (JAX/MJX {algo.upper()}, {'warm' if warm else 'cold'} compile)",
        "algo": algo, "compile_cache": "warm" if warm else "cold",
        "time_to_95_s": round(solved["time"] - t0, 2) if solved else None,
        "steps_to_95": solved["env_steps"] if solved else None,
        "env_steps": last["env_steps"], "elapsed_s": round(elapsed, 2),
        "steps_per_s": round(last["env_steps"] / max(last["time"] - t0, 1e-9), 1) if updates else None,
        "steady_steps_per_s": round(sorted(steady)[len(steady) // 2], 1) if steady else None,
        "first_update_s": round(updates[0]["time"] - t0, 2) if updates else None,
        "episodes": int(round(sum(u.get("episode/count", 0.0) for u in updates))),
        "rolling_success": last["rolling_success"], "stopped_by": stopped_by, "load_avg_at_start": load,
        "config": {"algo": algo, "preset": start["preset"], "total_steps": start["total_steps"], "num_envs": start["num_envs"],
                   "steps_per_update": start["steps_per_update"], "seed": args.seed},
        "curve": [{"time_s": round(p["time"] - t0, 2), "env_steps": p["env_steps"], "rolling_success": p["rolling_success"]}
                  for p in curve],
    }


# ----- peer ----------------------------------------------------------------------------------
def run_peer(args, tmp: Path, noise_path: Path, total_steps: int) -> dict:
    log = tmp / "sb3.jsonl"
    cmd = [str(PEER_PYTHON), str(PEER_DIR / "run_sb3.py"), "--noise-model", str(noise_path), "--log", str(log),
           "--time-budget-s", str(args.time_budget_s), "--total-steps", str(total_steps), "--seed", str(args.seed),
           "--n-envs", str(args.peer_n_envs), "--vec-env", args.peer_vec_env, "--target", str(args.target),
           "--window", str(args.window)]
    load = os.getloadavg()[0]
    print(f"[peer] SB3 PPO, {args.peer_n_envs} envs ({args.peer_vec_env}) (budget {args.time_budget_s:.0f} s, "
          f"load avg {load:.2f})", file=sys.stderr)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=args.time_budget_s + 600)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise SystemExit("[peer] run_sb3.py overran its budget by 600 s")
    finally:
        _stop(proc)
    if proc.returncode != 0:
        raise SystemExit(f"[peer] run_sb3.py failed with exit code {proc.returncode}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rollouts = [r for r in records if "final" not in r and "event" not in r]
    curve = [{"time_s": r["time_s"], "env_steps": r["env_steps"], "rolling_success": r["rolling_success"]
              if r["window_episodes"] >= args.window else None} for r in rollouts]
    steady = None
    if len(rollouts) >= 2 and rollouts[-1]["time_s"] > rollouts[0]["time_s"]:
        steady = round((rollouts[-1]["env_steps"] - rollouts[0]["env_steps"]) / (rollouts[-1]["time_s"] - rollouts[0]["time_s"]), 1)
    return {
        "framework": "Stable-Baselines3 PPO (C MuJoCo)",
        "time_to_95_s": summary["time_to_95_s"], "steps_to_95": summary["steps_to_95"],
        "env_steps": summary["env_steps"], "elapsed_s": summary["elapsed_s"], "steps_per_s": summary["steps_per_s"],
        "steady_steps_per_s": steady, "first_update_s": rollouts[0]["time_s"] if rollouts else None,
        "episodes": summary["episodes"],
        "rolling_success": summary["rolling_success"] if summary["episodes"] >= args.window else None, "stopped_by": summary["stopped_by"], "load_avg_at_start": load,
        "config": summary["config"], "versions": summary["versions"], "curve": curve,
    }


# ----- report --------------------------------------------------------------------------------
def _fmt(v, spec="{:,.0f}", none="not reached"):
    return none if v is None else spec.format(v)


def table(ours: dict | None, peer: dict | None, budget: float, target: float = 0.95, others: tuple = ()) -> str:
    """The results as a markdown table; `others`: more orient_jax runs (warm, SHAC), each with its
    SB3/run ratio row."""
    pct = f"{target:.0%}"
    rows = [f"| | time to {pct} (s) | env steps to {pct} | env steps/s (overall) | env steps/s (after 1st update) "
            "| first update (s) | steps run | final rolling success | stopped by |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in (ours, *others, peer):
        if r is None:
            continue
        not_reached = f"> {budget:,.0f}" if r["stopped_by"] == "time_budget" else "not reached"
        few = f"n/a ({r['episodes']} episodes)"
        rows.append(f"| {r['framework']} | {_fmt(r['time_to_95_s'], '{:,.1f}', not_reached)} | "
                    f"{_fmt(r['steps_to_95'])} | {_fmt(r['steps_per_s'], none='n/a')} | "
                    f"{_fmt(r['steady_steps_per_s'], none='n/a')} | {_fmt(r['first_update_s'], '{:.1f}', 'n/a')} | "
                    f"{r['env_steps']:,} | {_fmt(r['rolling_success'], '{:.1%}', few)} | "
                    f"{r['stopped_by']} |")
    for r in (ours, *others) if peer else ():
        if r is None:
            continue

        def ratio(key):
            a, b = peer.get(key), r.get(key)
            return f"{a / b:.2f}x" if a and b else "n/a"
        rows.append(f"| **ratio SB3 / {r['framework']}** | {ratio('time_to_95_s')} | {ratio('steps_to_95')} | "
                    f"{ratio('steps_per_s')} | {ratio('steady_steps_per_s')} | | | | |")
    return "\n".join(rows)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--time-budget-s", type=float, default=1800.0,
                   help="wall-clock budget of EACH side (s); a side not at 95%% by then is reported '> budget' (default 1800)")
    p.add_argument("--ours-preset", default="quick", help="orient_jax PPO preset: quick (default), full, gpu, tiny")
    p.add_argument("--shac", action="store_true", help="also run orient_jax's SHAC (--algo shac) as a third peer")
    p.add_argument("--shac-preset", default="quick", help="its preset: quick (default), gpu, tiny")
    p.add_argument("--warm", action="store_true",
                   help="run each orient_jax trainer a second time on the compilation cache its first run filled")
    p.add_argument("--ours-algo", default="ppo", help=argparse.SUPPRESS)
    p.add_argument("--ours-total-steps", type=int, default=None,
                   help="cap on our env steps (sets the preset's total_steps, hence its lr decay); default: the preset's")
    p.add_argument("--peer-total-steps", type=int, default=None,
                   help="SB3 env-step cap and lr-decay horizon (default: the same total_steps as ours)")
    p.add_argument("--peer-n-envs", type=int, default=8, help="SB3 parallel envs (default 8)")
    p.add_argument("--peer-vec-env", choices=("dummy", "subproc"), default="dummy",
                   help="SB3 vector env (default dummy: faster on 2 cores, see run_sb3.py --help)")
    p.add_argument("--target", type=float, default=0.95, help="rolling success to reach (default 0.95)")
    p.add_argument("--window", type=int, default=200, help="episodes in the rolling window (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-ours", action="store_true", help="run only the SB3 peer")
    p.add_argument("--skip-peer", action="store_true", help="run only orient_jax")
    p.add_argument("--skip-peer-install", action="store_true",
                   help="never create or install the peer venv (fail if it is missing or incomplete)")
    p.add_argument("--peer-python", default=None, help="Python 3.11 to build the peer venv with (default: found)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (metrics, logs) and print its path")
    p.add_argument("--json", default=None, help="write the results (and the command line) to this JSON file")
    p.add_argument("--_ours-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--_worker-dir", dest="worker_dir", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args._ours_worker:
        return ours_worker(args)
    from orient_jax.rl.presets import preset
    from orient_jax.sim import noise

    ours_total = args.ours_total_steps or preset(args.ours_preset).total_steps
    peer_total = args.peer_total_steps or ours_total
    peer_versions = None if args.skip_peer else ensure_peer_venv(args)
    tmp = Path(tempfile.mkdtemp(prefix="time_to_solve_"))
    try:
        noise_path = tmp / "pose_error_default.json"
        noise_path.write_text(noise.default_model().to_json())
        runs = {}
        for algo in ([] if args.skip_ours else ["ppo"]) + (["shac"] if args.shac else []):
            name = "ours" if algo == "ppo" else "shac"
            runs[name] = run_ours(args, tmp, algo, name=name)
            if args.warm:
                runs[f"{name}_warm"] = run_ours(args, tmp, algo, cache=tmp / f"xla-{name}", name=f"{name}_warm")
        ours = runs.pop("ours", None)
        peer = None if args.skip_peer else run_peer(args, tmp, noise_path, peer_total)
    finally:
        if args.keep_workdir:
            print(f"[kept] {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(ours, peer, args.time_budget_s, args.target, others=tuple(runs.values())))
    if args.json:
        import jax
        import mujoco

        result = {
            "command": shlex.join([os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable]
                                  + [os.path.relpath(sys.argv[0], REPO) if os.path.isabs(sys.argv[0]) else sys.argv[0]] + sys.argv[1:]),
            "target": args.target, "window": args.window, "time_budget_s": args.time_budget_s,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
            "versions": {"ours": {"python": platform.python_version(), "jax": jax.__version__, "mujoco": mujoco.__version__},
                         "peer": peer_versions},
            "ours": ours, "peer": peer, **runs,
            "ratio_peer_over_ours": {k: (peer[k] / ours[k] if ours and peer and ours.get(k) and peer.get(k) else None)
                                     for k in ("time_to_95_s", "steps_to_95", "steps_per_s")},
        }
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
