"""`orient-jax`: the command line. Thin: parse, then call the library.

A user's mistake (unknown env or preset, bad value, missing or corrupt file) prints one
line starting with "error:" and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from orient_jax import distributed
from orient_jax.errors import UserError

PLUGIN_COMMANDS = ("orient_jax.data.commands", "orient_jax.pose.commands", "orient_jax.export.commands",
                   "orient_jax.web.commands", "orient_jax.pipeline.commands", "orient_jax.objects.commands")
DEFAULT_POLICIES = Path(__file__).resolve().parent.parent / "models" / "checkpoints"


def _split_overrides(items: list[str], algo: str = "ppo") -> tuple[list[str], list[str]]:
    """`--set env.x=1 --set ppo.y=2` -> (env overrides, trainer overrides); the trainer's
    prefix is the algorithm's (`ppo.`, or `shac.` with --algo shac)."""
    env, trainer = [], []
    for item in items:
        head, _, rest = item.partition(".")
        if head == "env" and rest:
            env.append(rest)
        elif head == algo and rest:
            trainer.append(rest)
        elif head in ("ppo", "shac") and rest:
            raise UserError(f"override {item!r} is for --algo {head}, not {algo}")
        else:
            raise UserError(f"override {item!r} must start with 'env.' or '{algo}.' (e.g. {algo}.num_envs=256)")
    return env, trainer


def _configs(args):
    from orient_jax import config as config_lib
    from orient_jax import sim
    from orient_jax.rl import presets

    algo = getattr(args, "algo", "ppo")
    env_over, trainer_over = _split_overrides(args.set or [], algo)
    obj = _object(args)
    env_config = config_lib.apply_overrides(sim.default_config(args.env, obj.mjcf if obj else None), env_over)
    trainer_config = config_lib.apply_overrides(presets.preset(args.preset, algo), trainer_over)
    return env_config, trainer_config


def _object(args):
    """The checked `--object DIR` (object_ref.ObjectRef), or None for the built-in engine."""
    if not getattr(args, "object", None):
        return None
    from orient_jax import object_ref

    return object_ref.resolve(args.object)


def cmd_train(args) -> int:
    from orient_jax.rl.train import RunConfig, train_and_evaluate

    distributed.initialize_from_args(args)
    env_config, ppo_config = _configs(args)
    obj = _object(args)
    algo = "" if args.algo == "ppo" else f"-{args.algo}"
    workdir = Path(args.workdir or f"runs/{args.env}{algo}-{args.preset}" + (f"-{obj.name}" if obj else ""))
    run = RunConfig(env=args.env, checkpoint_every=args.checkpoint_every, init_from=getattr(args, "init_from", None) or "",
                    warm_start_std=getattr(args, "warm_start_std", 0.0), object_dir=args.object or "")
    train_and_evaluate(run, env_config, ppo_config,
                       workdir, show_progress=not args.no_progress)
    import jax

    if jax.process_index() == 0:
        print(f"policy written to {workdir / 'policy'}")
    return 0


def cmd_eval(args) -> int:
    from orient_jax import config as config_lib
    from orient_jax.rl import evaluate as ev
    from orient_jax.rl.checkpoint import load_policy
    from orient_jax.rl.policy import obs_policy_fn

    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    artifact = load_policy(Path(args.policy))
    # Other conditions than the training's: e.g. another policy's physics ranges.
    cfg = config_lib.apply_overrides(artifact.env_config, [o.removeprefix("env.") for o in args.set])
    if cfg.memory != artifact.env_config.memory:
        raise UserError("env.memory is part of the policy's network input; it cannot change at evaluation")
    artifact = dataclasses.replace(artifact, env_config=cfg)  # e.g. --set env.reflex.enabled=true wraps the policy
    # The physics the policy was trained on (the MJCF it carries; none: the engine), or --object's.
    obj = _object(args)
    mjcf_path = str(obj.mjcf) if obj else (artifact.mjcf_path or None)
    if obj:
        print(f"evaluating on object {obj.name!r} ({obj.mjcf}); the policy was trained on "
              f"{artifact.object_dir or 'the engine'}")
    policy_dir = Path(args.policy)
    in_run = (policy_dir.parent / "config.json").is_file()  # a policy inside a training run folder
    out = Path(args.out or (policy_dir.parent / "eval" if in_run else Path("runs") / f"eval-{policy_dir.name}"))
    out.mkdir(parents=True, exist_ok=True)
    controller = obs_policy_fn(artifact)
    sweep_eps = max(1, args.episodes // 4)
    settings = [ev.Setting(args.episodes, cfg.noise.scale, cfg.noise.ang_vel_std),  # as trained
                ev.Setting(args.episodes, 0.0, 0.0),  # perfect observations
                ev.Setting(args.episodes, cfg.noise.scale, cfg.noise.ang_vel_std, randomized_physics=False)]
    settings += [ev.Setting(sweep_eps, s, cfg.noise.ang_vel_std) for s in args.noise_levels]
    noisy, clean, nominal, *levels = ev.rollouts(artifact.env_name, cfg, controller, settings, args.seed,
                                                 mjcf_path=mjcf_path)
    results = {"noisy": noisy, "clean": clean, "nominal": nominal}
    sweep = {s: float(r.success.mean()) for s, r in zip(args.noise_levels, levels)}
    report = {"policy": str(args.policy), "env": artifact.env_name, "seed": args.seed, "overrides": list(args.set),
              **({"object": obj.record()} if obj else {"object_dir": artifact.object_dir} if artifact.mjcf_path else {}),
              **{name: r.summary() for name, r in results.items()},
              "success_vs_noise_scale": {str(k): v for k, v in sweep.items()}, "sweep_episodes": sweep_eps}
    ev.write_report(out / "eval.json", report)
    png = ev.plot(results, sweep, out / "eval.png", f"{artifact.env_name}: {args.episodes} seeded starts (seed {args.seed})")
    _print_eval(report)
    print(f"report: {out / 'eval.json'}  plot: {png}")
    return 0


def _print_eval(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['env']} evaluation")
    for col in ("setting", "success", "median t (s)", "p90 t (s)", "median final err (deg)"):
        table.add_column(col)
    labels = {"noisy": "noisy (as trained)", "clean": "perfect obs", "nominal": "noisy, nominal physics"}
    for name, label in labels.items():
        s = report[name]
        fmt = lambda v: "-" if v is None else f"{v:.2f}"
        table.add_row(label, f"{s['success_rate']:.1%}", fmt(s["time_to_success_median_s"]),
                      fmt(s["time_to_success_p90_s"]), f"{s['final_error_median_deg']:.2f}")
    Console().print(table)
    print("physics randomized as in training, except the nominal row (the MJCF as is, as the browser runs it)")
    if "reflex_pushes_mean" in report["noisy"]:
        s = report["noisy"]
        print(f"stall reflex (noisy row): pushed in {s['reflex_episodes']:.1%} of the episodes, "
              f"{s['reflex_pushes_mean']:.2f} pushes per episode")
    if report.get("overrides"):
        print("env config as trained, except:", " ".join(report["overrides"]))
    print("success vs noise scale:", ", ".join(f"x{k}: {v:.1%}" for k, v in report["success_vs_noise_scale"].items()))


REMOVED_COMMANDS = {
    "soup": "`orient-jax soup` was removed (the averaged goal policy did not ship: docs/goal_task.md); "
            "nothing replaces it",
    "quickstart": "`orient-jax quickstart` was removed: run `orient-jax train --env upright --preset quick`, then "
                  "`orient-jax eval --policy runs/upright-quick/policy`, or the whole main job: "
                  "`orient-jax pipeline --preset cpu-quick`",
}
"""Commands that were documented once: each still answers, with one line naming its replacement."""


def cmd_reflex(args) -> int:
    from orient_jax.rl import checkpoint
    from orient_jax.rl.policy import with_reflex

    out = Path(args.out).resolve()
    if out == Path(args.policy).resolve():
        raise UserError(f"--out {args.out} is the input policy; write the wrapped policy elsewhere")
    artifact = with_reflex(checkpoint.load_policy(Path(args.policy)), args.set)
    checkpoint.save_policy(out, artifact)
    r = artifact.env_config.reflex
    print(f"{args.policy} with the stall reflex (stall {r.stall_s} s, push {r.push_s} s, beyond {r.far_deg} deg) "
          f"written to {args.out}")
    return 0


def cmd_asset(args) -> int:
    from orient_jax.assets import mjcf

    path = mjcf.write_mjcf()
    print(f"wrote {path} (action scale {mjcf.action_scale():.2f} N*m per axis)")
    return 0


def cmd_config(args) -> int:
    from orient_jax import config as config_lib

    env_config, trainer_config = _configs(args)
    algo = getattr(args, "algo", "ppo")
    print("\n".join(["# env (override with --set env.KEY=VALUE)"] + config_lib.describe(env_config)
                    + ["", f"# {algo}, preset {args.preset} (override with --set {algo}.KEY=VALUE)"]
                    + config_lib.describe(trainer_config)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from orient_jax.rl.presets import ALGOS, PRESETS, SHAC_PRESETS
    from orient_jax.sim import ALL_ENVS

    parser = argparse.ArgumentParser(
        prog="orient-jax",
        description="orient-jax: see a 3D object's orientation and turn it, JAX end to end. The main job: "
                    "`orient-jax pipeline --preset cpu-quick` (render -> pose CNN -> PPO policy -> ONNX export with a "
                    "parity gate -> browser bundle -> serve).",
        epilog="Every command takes --help. Configs: `orient-jax config --env upright` lists each key with its meaning.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_common(p, with_env=True):
        if with_env:
            p.add_argument("--env", default="upright", help=f"task: one of {', '.join(ALL_ENVS)} (default upright)")
        p.add_argument("--algo", default="ppo", choices=ALGOS,
                       help="ppo (default): PPO on the simulator as a black box; shac: short-horizon actor-critic, "
                            "gradients through the differentiable MJX physics (experimental: see docs/design.md)")
        p.add_argument("--preset", default="quick", help=f"training scale: one of {', '.join(PRESETS)} for ppo, "
                                                         f"{', '.join(SHAC_PRESETS)} for shac (default quick)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value, e.g. --set ppo.num_envs=256 --set env.noise.scale=2 "
                            "(shac.KEY=VALUE with --algo shac)")
        p.add_argument("--object", metavar="DIR",
                       help="an object folder (`orient-jax object import`) to train on, with the env defaults "
                            "relative to its size (default: the built-in engine)")

    p = sub.add_parser("train", help="train a policy with PPO or SHAC (resumes if the workdir has a checkpoint)",
                       description="Train a re-orientation policy with PPO (or SHAC: --algo shac) on vectorized MJX envs, "
                                   "data-parallel over all devices (and processes: see the multi-process options). "
                                   "Rerunning in the same workdir resumes from its latest checkpoint.")
    add_common(p)
    p.add_argument("--workdir", help="run folder: checkpoints, metrics.jsonl, tb/, policy/ (default runs/ENV-PRESET, "
                        "runs/ENV-PRESET-NAME with --object)")
    p.add_argument("--checkpoint-every", type=int, default=20, help="save the training state every N updates")
    p.add_argument("--init-from", metavar="DIR",
                   help="warm start from another run folder's latest checkpoint (same task and network sizes): "
                        "a curriculum's next stage; or from a policy artifact such as models/checkpoints/goal "
                        "(actor only, fresh critic: add --set ppo.actor_frozen_updates=N; a policy without memory given "
                        "--set env.memory=true starts as the same function); ignored when resuming")
    p.add_argument("--warm-start-std", type=float, default=0.0, metavar="S",
                   help="with --init-from: raise the policy's action std to at least S (fresh exploration; default keep)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    distributed.add_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a policy over seeded random starts, with and without noise",
                       description="Evaluate a policy over --episodes seeded random starts (episode i starts from "
                                   "fold_in(seed, i): same drops and targets for every setting) in three settings: "
                                   "noisy observations with the training's randomized physics; perfect observations; "
                                   "noisy observations with nominal physics (the MJCF as it is, as the browser runs it). "
                                   "Then success vs noise level over a quarter as many starts. Writes eval.json and eval.png.")
    p.add_argument("--policy", default=str(DEFAULT_POLICIES / "upright"), help="policy folder (default: the shipped upright policy)")
    p.add_argument("--episodes", type=int, default=1000, help="random starts (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    p.add_argument("--noise-levels", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 4.0],
                   help="noise scales for the success-vs-noise sweep (x the pose-error model)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="evaluate under another env config than the one trained with, e.g. "
                        "--set \"env.randomization.torque_gain=[0.85,1.1]\" (repeatable)")
    p.add_argument("--out", help="output folder for eval.json and eval.png (default: RUN/eval for a run's policy, else runs/eval-NAME)")
    p.add_argument("--object", metavar="DIR",
                   help="evaluate on this object folder's physics instead of the policy's own (default: the MJCF the "
                        "policy carries, or the built-in engine for a policy without one)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("reflex", help="wrap a trained policy with memory in the stall reflex (push out of a stall, retry)",
                       description="Write a copy of POLICY that, once it has pushed at the torque limit without moving "
                                   "for reflex.stall_s while farther than reflex.far_deg from its goal, reverses that "
                                   "push for reflex.push_s and then hands back to the network (sim/reflex.py). The "
                                   "reflex is part of the exported policy graph; its state is one more row of the "
                                   "policy's memory. Try it first with: orient-jax eval --set env.reflex.enabled=true")
    p.add_argument("policy", metavar="POLICY", help="policy folder with memory (RUN/policy or models/checkpoints/NAME)")
    p.add_argument("--out", required=True, help="folder for the wrapped policy (written atomically)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a reflex setting other than the default, e.g. --set reflex.push_s=0.4 (repeatable; "
                        "`orient-jax config` lists them)")
    p.set_defaults(func=cmd_reflex)

    p = sub.add_parser("asset", help="regenerate assets/engine.xml from the engine's source description")
    p.set_defaults(func=cmd_asset)

    p = sub.add_parser("config", help="print every config key of an env and preset, with its meaning")
    add_common(p)
    p.set_defaults(func=cmd_config)

    # Each other part of the product owns its subcommands in its own `commands.py`, with
    # `register(subparsers)`; a part that is not there yet adds none.
    import importlib
    for module in PLUGIN_COMMANDS:
        try:
            importlib.import_module(module).register(sub)
        except ModuleNotFoundError as exc:
            if not module.startswith(exc.name or "\0"):
                raise
    return parser


def _negative_axes_attached(argv: list[str]) -> list[str]:
    """`--up -y` as `--up=-y` (and `--symmetry -z:4` as `--symmetry=-z:4`): argparse reads a
    value that starts with '-' as an option."""
    out = []
    for arg in argv:
        if out and ((out[-1] == "--up" and arg in ("-x", "-y", "-z"))
                    or (out[-1] == "--symmetry" and arg.startswith("-") and ":" in arg)):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in REMOVED_COMMANDS:  # not offered any more, but answered, whatever follows
        print(f"error: {REMOVED_COMMANDS[argv[0]]}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(_negative_axes_attached(argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    from orient_jax import compile_cache

    compile_cache.enable()
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
