"""The SLURM and SkyPilot files: valid shell/YAML, and every orient-jax command in them is one
the CLI accepts (an option renamed in the CLI fails here, not on a cluster hours later)."""

import dataclasses
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from orient_jax import config as config_lib
from orient_jax.cli import build_parser
from orient_jax.data.config import CLASSIC_DR, DatasetConfig
from orient_jax.sim import base
from orient_jax.sim.reflex import ReflexConfig

CLUSTER = Path(__file__).resolve().parent.parent / "scripts" / "cluster"
SCRIPTS = sorted(CLUSTER.glob("*.sbatch"))


def _orient_jax_commands(text: str) -> list[list[str]]:
    """Every `.venv/bin/orient-jax ...` command, continuation lines joined, shell values filled in."""
    text = text.replace("\\\n", " ")
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)  # ${VAR:-default} -> default
    text = re.sub(r"\$\(nproc\)", "8", text)
    for name, value in re.findall(r'^([A-Z_]+)="([^"$]*)"$', text, flags=re.M):  # NAME="value" assignments
        text = text.replace(f'"${name}"', value)
    arrays: dict[str, str] = {}
    for name, items in re.findall(r"\b([a-z_]+)=\(([^)]*)\)", text):  # name=(...): the first, a case's default branch
        arrays.setdefault(name, items)
    for name, items in arrays.items():
        text = text.replace(f'"${{{name}[@]}}"', items)
    commands = []
    for line in text.splitlines():
        line = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        if ".venv/bin/orient-jax" in line:
            argv = shlex.split(line.split(".venv/bin/orient-jax", 1)[1].split("&&")[0])
            commands.append(argv)
    return commands


def test_there_are_slurm_scripts_for_render_arrays_the_gpu_pipeline_and_multinode_training():
    assert {p.name for p in SCRIPTS} >= {"render_array.sbatch", "finalize.sbatch", "pipeline_gpu.sbatch",
                                        "train_multinode.sbatch"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_slurm_script_parses_and_its_commands_are_valid(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "#SBATCH" in text
    commands = _orient_jax_commands(text)
    assert commands, f"{script.name} runs no orient-jax command"
    for argv in commands:
        build_parser().parse_args(argv)  # SystemExit (a failed test) on an unknown option or preset value


def test_skypilot_task_runs_the_gpu_preset_with_cuda():
    task = yaml.safe_load((CLUSTER / "skypilot.yaml").read_text())
    assert task["resources"]["accelerators"] and task["workdir"] == "."
    assert "ORIENT_JAX_EXTRAS=cuda" in task["setup"]
    [argv] = _orient_jax_commands(task["run"])
    args = build_parser().parse_args(argv)
    assert args.preset == "gpu" and args.until == "export"


def test_array_tasks_split_the_shards_without_overlap():
    """`--shard i --num-shards n`, as the array job passes them, covers every shard exactly once."""
    from orient_jax.data.config import DatasetConfig
    from orient_jax.data.render import owned_shards

    config = DatasetConfig(num_images=37 * 256 - 5)
    owned = [owned_shards(config, task, 8) for task in range(8)]
    assert sorted(s for part in owned for s in part) == list(range(config.num_shards)) and config.num_shards == 37


def test_goal_training_stages_are_valid_commands():
    """scripts/train_goal.sh: valid shell, every stage a command the CLI accepts, each warm
    start from the stage before it (stage 10 from stage 9's policy, growing it a memory, on
    the stall bank collected from that policy first); the last stage's reward is the shipped
    policy's, and the shipped policy is that network in the default stall reflex."""
    path = CLUSTER.parent / "train_goal.sh"
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    text = path.read_text().replace("\\\n", " ").replace('"$root', "runs/goal").replace('"', "")
    stages = [shlex.split(line)[1:] for line in text.splitlines() if line.startswith("train --")]
    assert len(stages) == 14
    parser = build_parser()
    for i, argv in enumerate(stages):
        args = parser.parse_args(["train", "--env", "goal", "--preset", "goal", *argv])
        assert args.workdir == f"runs/goal/stage{i + 1}"
        assert args.init_from == ({0: None, 9: "runs/goal/stage9/policy"}.get(i, f"runs/goal/stage{i}"))
        assert ("env.memory=true" in (args.set or [])) == (i >= 9)
    [collect] = [line for line in text.splitlines() if "collect_stall_starts.py" in line]
    assert "--policy runs/goal/stage9/policy" in collect and "--out runs/goal/stall_starts.npz" in collect
    assert text.index("collect_stall_starts.py") < text.index("--workdir runs/goal/stage10")
    shipped = json.loads((CLUSTER.parents[1] / "models/checkpoints/goal/policy.json").read_text())
    last = dict(s.split("=", 1) for s in args.set)
    for term, scale in shipped["env_config"]["reward"].items():
        assert float(last.get(f"env.reward.{term}", getattr(base.RewardScales, term))) == scale
    # Then the last stage's network is wrapped in the stall reflex, as shipped (its defaults).
    [wrap] = [shlex.split(line)[1:] for line in text.splitlines() if line.startswith(".venv/bin/orient-jax reflex ")]
    wrap = parser.parse_args(wrap)
    assert wrap.policy == "runs/goal/stage14/policy" and wrap.out == "runs/goal/shipped" and not wrap.set
    assert shipped["env_config"]["reflex"] == {**dataclasses.asdict(ReflexConfig()), "enabled": True}


def test_pose_training_script_trains_the_classic_model_then_fine_tunes_it_on_the_lighting_families():
    """scripts/train_pose.sh (the shipped pose model): valid shell, every command one the CLI
    accepts; A: the `full` preset on the classic randomization, its held-out set with another
    seed; B: fine-tuned from A's weights on renders lit by the training families only (sky
    lighting and clutter held out, as experiments/lighting_holdout.py tests); both scored on A's
    held-out set."""
    path = CLUSTER.parent / "train_pose.sh"
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    parser = build_parser()
    args = [parser.parse_args(argv) for argv in _orient_jax_commands(path.read_text())]
    renders = {a.out: a for a in args if a.command == "data" and a.data_command == "render"}
    classic, tuned = [a for a in args if a.command == "train-pose"]
    evals = [a for a in args if a.command == "eval-pose"]
    assert classic.preset == tuned.preset == "full" and classic.data in renders and classic.val in renders
    assert renders[classic.data].seed != renders[classic.val].seed
    dr = lambda render: config_lib.apply_overrides(DatasetConfig(), render.set or []).dr  # noqa: E731
    assert dr(renders[classic.data]) == dr(renders[classic.val]) == config_lib.apply_overrides(DatasetConfig(), list(CLASSIC_DR)).dr
    assert tuned.init == f"{classic.workdir}/pose" and tuned.workdir != classic.workdir
    lights = dr(renders[tuned.data])
    assert "sky" not in lights.light_families and "clutter" not in lights.background_families
    assert set(lights.light_families) > {"studio"} and set(lights.background_families) > {"plain"}
    assert [(e.model, e.data) for e in evals] == [(f"{classic.workdir}/pose", classic.val), (f"{tuned.workdir}/pose", classic.val)]