"""`orient-jax export` and `orient-jax parity`."""

from __future__ import annotations

from pathlib import Path

from orient_jax.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "models" / "checkpoints"
DEFAULT_OUT = REPO_ROOT / "models" / "export"


def _pose_source(args):
    from orient_jax.export import gate

    if args.pose and args.pose_random_init:
        raise UserError("give either --pose DIR or --pose-random-init, not both")
    if args.pose_random_init:
        return gate.random_pose_source(args.seed)
    path = Path(args.pose) if args.pose else CHECKPOINTS / "pose"
    if not args.pose and not (path / "pose.json").is_file():
        raise UserError(f"no trained pose model at {path}; pass --pose DIR, or --pose-random-init "
                        "(an untrained model, for development and tests only)")
    return gate.pose_source_from_dir(path)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.2e}"


def policy_object(policy):
    """The object folder a policy trained on an imported object came from, when it is still there
    and still holds the MJCF the policy carries (then its visual.glb and camera can ship); else None."""
    from orient_jax import object_ref
    from orient_jax.fileio import sha256_file

    if not policy.mjcf_path or not policy.object_dir:
        return None
    for folder in (Path(policy.object_dir), REPO_ROOT / policy.object_dir):
        try:
            obj = object_ref.resolve(folder)
        except UserError:
            continue
        if sha256_file(obj.mjcf) == sha256_file(Path(policy.mjcf_path)):
            return obj
    return None


def cmd_export(args) -> int:
    from orient_jax import object_ref
    from orient_jax.export import gate
    from orient_jax.rl.checkpoint import load_policy

    obj = object_ref.resolve(args.object) if args.object else None
    policy = load_policy(Path(args.policy))
    if obj is None and policy.mjcf_path:  # the object the policy was trained on
        obj = policy_object(policy)
        if obj is None:
            print(f"warning: {args.policy} was trained on an object whose folder ({policy.object_dir}) is gone or has "
                  "changed: shipping the MJCF the policy carries without a visual mesh; pass --object DIR for one")
    goal_dir = Path(args.goal_policy) if args.goal_policy else CHECKPOINTS / "goal"
    # The shipped goal policy is the engine's: for an imported object a goal policy is optional (--goal-policy).
    default_goal = obj is None and not policy.mjcf_path and (goal_dir / "policy.json").is_file()
    goal = load_policy(goal_dir) if args.goal_policy or default_goal else None
    pose = _pose_source(args)
    manifest = gate.export_models(
        Path(args.out), policy=policy, policy_source=gate._rel(Path(args.policy)), goal_policy=goal,
        goal_policy_source=gate._rel(goal_dir) if goal else "", pose=pose,
        dataset=Path(args.dataset) if args.dataset else None, seed=args.seed, episodes=args.episodes,
        browser=args.browser, obj=obj)
    import json
    report = json.loads((Path(args.out) / "parity.json").read_text())
    print_report(report)
    files = ", ".join(sorted(m["file"] for m in manifest["models"].values()))
    asset = manifest["asset"]
    print(f"exported to {Path(args.out)}: {files}, {asset['mjcf']}{', ' + asset['glb'] if asset['glb'] else ''}, "
          "manifest.json, parity.json" + (f" (object {obj.name!r} from {obj.dir})" if obj else ""))
    if not manifest["models"].get("pose", {}).get("trained", True):
        print("warning: pose.onnx is an UNTRAINED random initialisation (development only)")
    return 0


def cmd_parity(args) -> int:
    from orient_jax.export import parity_run

    report = parity_run.parity_of_export(Path(args.models), dataset=Path(args.dataset) if args.dataset else None,
                                         browser=args.browser, seed=args.seed, episodes=args.episodes)
    out = Path(args.out) if args.out else REPO_ROOT / "runs" / "parity" / "parity.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    from orient_jax.export.manifest import write_json
    write_json(out, report)
    print_report(report)
    print(f"report: {out}")
    if report["failures"]:
        print("FAILED:\n  - " + "\n  - ".join(report["failures"]))
        return 1
    return 0


def print_report(report: dict) -> None:
    """One row per model and leg: the worst error over all cases at each batch size, bound, verdict."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ONNX parity, worst over all input cases\n(JAX/ORT: JAX vs onnxruntime CPU; ORT/Web: onnxruntime vs ONNX Runtime Web wasm)")
    for col in ("leg", "model", "metric", "batch 1", "batch 7", "batch 64", "bound", "ok"):
        table.add_column(col)

    def rows(leg: str, name: str, rep: dict):
        if "cases" not in rep:
            table.add_row(leg, name, "-", "-", "-", "-", "-", rep.get("skipped", "?"))
            return
        metrics = [("max_abs", "action max abs" if "angle_deg" not in rep else "quat max abs", rep["bound"]["max_abs"])]
        if "angle_deg" in rep:
            metrics.append(("angle_deg", "quat angle (deg)", rep["bound"]["angle_deg"]))
        if "memory_max_rel" in rep:
            metrics.append(("memory_max_rel", "memory_out max rel", rep["bound"]["memory_max_rel"]))
        for key, label, bound in metrics:
            per = []
            for b in ("1", "7", "64"):
                vals = [c[b][key] for c in rep["cases"].values() if b in c]
                per.append(f"{max(vals):.2e}" if vals else "-")
            worst = rep[key] if key in rep else max(float(x) for x in per if x != "-")
            table.add_row(leg, name, label, *per, f"{bound:g}", "yes" if worst <= bound else "NO")

    for name, rep in report.get("parity", {}).items():
        rows("JAX/ORT", name, rep)
    if "browser" in report:
        ver = report["browser"]["onnxruntime_web"]
        for name, rep in report["browser"]["models"].items():
            rows(f"ORT/Web {ver}", name, rep)
    Console().print(table)
    for name, rep in report.get("parity", {}).items():
        cl = rep.get("closed_loop")
        if cl:
            print(f"closed loop {name}: {cl['episodes']} episodes x {cl['seconds']:g} s in {cl['simulator']}: "
                  f"max orientation gap {_fmt(cl['max_orientation_gap_deg'])} deg (bound {cl['bound']['orientation_deg']:g}; "
                  f"{len(cl.get('chaotic_episodes', []))} episodes turn chaotic and are compared up to there, "
                  f"{cl.get('compared_fraction', 1):.0%} of the steps compared; all: {cl.get('max_orientation_gap_all_deg', 0):.2g}), "
                  f"max action gap {cl['max_action_gap']:.2e}, success JAX {cl['success_rate_jax']:.0%} / "
                  f"ONNX {cl['success_rate_onnx']:.0%} ({'identical' if cl['success_jax'] == cl['success_onnx'] else 'DIFFERENT'})")
    if "browser" in report:
        for name, rep in report["browser"]["models"].items():
            ms = ", ".join(f"batch {b}: {v:.2f} ms" for b, v in rep.get("ms_median", {}).items())
            print(f"ORT Web {name} run time (median over cases): {ms}")


def register(sub) -> None:
    p = sub.add_parser("export", help="export the policy (and goal policy) and pose model to ONNX, checked, with manifest.json",
                       description="jax2onnx export of policy.onnx, [policy_goal.onnx] and pose.onnx into a temp folder, "
                                   "contract + parity checks (JAX vs onnxruntime, closed loop in C MuJoCo), then an atomic "
                                   "move into --out with engine.xml, [engine.glb] (an imported object's: object.xml, object.glb), "
                                   "manifest.json and parity.json. A failed "
                                   "check leaves the previous files untouched.")
    p.add_argument("--policy", default=str(CHECKPOINTS / "upright"), help="upright policy folder (default: the shipped one)")
    p.add_argument("--goal-policy", help="goal-conditioned policy folder (default: models/checkpoints/goal when it exists "
                                         "and the policy is the engine's; optional for an imported object)")
    p.add_argument("--object", metavar="DIR",
                   help="the object folder the policies were trained on: its object.xml and visual.glb ship as "
                        "object.xml / object.glb and its camera frames the page (default: the object the policy "
                        "carries, else the built-in engine)")
    p.add_argument("--pose", help="trained pose model folder (default: models/checkpoints/pose)")
    p.add_argument("--pose-random-init", action="store_true",
                   help="DEVELOPMENT ONLY: export an untrained, randomly initialised pose net (marked so in the manifest)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default models/export; the page loads web/public/models)")
    p.add_argument("--dataset", help="a rendered dataset folder: its images join the pose parity inputs")
    p.add_argument("--browser", action="store_true", help="also check onnxruntime vs ONNX Runtime Web in headless Chromium")
    p.add_argument("--episodes", type=int, default=8, help="closed-loop parity episodes (default 8, 10 s each)")
    p.add_argument("--seed", type=int, default=0, help="seed of the parity inputs and episodes (and of --pose-random-init)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("parity", help="re-check an export: contracts, JAX vs onnxruntime, closed loop, [browser]",
                       description="Reloads the models the manifest names (their checkpoints), checks the files' sha256, "
                                   "contracts and parity; prints a table and writes the JSON report. Exit 1 when a bound fails.")
    p.add_argument("--models", default=str(DEFAULT_OUT), help="export folder with manifest.json (default models/export)")
    p.add_argument("--browser", action="store_true", help="also onnxruntime vs ONNX Runtime Web (wasm) in headless Chromium")
    p.add_argument("--dataset", help="a rendered dataset folder: its images join the pose parity inputs")
    p.add_argument("--episodes", type=int, default=8, help="closed-loop episodes (default 8, 10 s each)")
    p.add_argument("--seed", type=int, default=0, help="seed of the parity inputs and episodes")
    p.add_argument("--out", help="JSON report path (default runs/parity/parity.json)")
    p.set_defaults(func=cmd_parity)
