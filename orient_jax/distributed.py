"""Multi-process runs through JAX's own distributed runtime (`jax.distributed.initialize`).

Every process runs the same command; together they see one global device list, and the
training code (which shards over `jax.devices()`) runs unchanged: data-parallel across
processes and their local devices. Three ways to start:

- explicit: `--coordinator HOST:PORT --num-processes N --process-id I` on each process;
- environment: `JAX_COORDINATOR_ADDRESS`, `ORIENT_JAX_NUM_PROCESSES`, `ORIENT_JAX_PROCESS_ID`;
- cluster auto-detection (`--distributed`): SLURM, Open MPI, Kubernetes... as JAX detects them.

On CPU the cross-process collectives go through gloo. `initialize` must run before anything
touches a JAX device, so the CLI calls it first thing.
"""

from __future__ import annotations

import argparse
import os

from orient_jax.errors import UserError


def add_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("multi-process (jax.distributed)")
    g.add_argument("--coordinator", default=os.environ.get("JAX_COORDINATOR_ADDRESS"), metavar="HOST:PORT",
                   help="address of process 0's coordinator; with --num-processes and --process-id")
    g.add_argument("--num-processes", type=int, default=_env_int("ORIENT_JAX_NUM_PROCESSES"), metavar="N",
                   help="processes taking part in the run")
    g.add_argument("--process-id", type=int, default=_env_int("ORIENT_JAX_PROCESS_ID"), metavar="I",
                   help="this process's index, 0..N-1 (process 0 writes logs and artifacts)")
    g.add_argument("--distributed", action="store_true",
                   help="multi-process with the cluster's own settings (SLURM, MPI, Kubernetes: auto-detected)")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name}={value!r} is not an integer") from None


def initialize_from_args(args: argparse.Namespace) -> bool:
    """Join the distributed run the arguments describe; False (and nothing done) for 1 process."""
    explicit = (args.coordinator, args.num_processes, args.process_id)
    if not args.distributed and all(v is None for v in explicit):
        return False
    if not args.distributed:
        if None in explicit:
            raise UserError("multi-process needs all of --coordinator, --num-processes and --process-id "
                            "(or --distributed on a cluster JAX detects)")
        if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
            raise UserError(f"--process-id must be in 0..{args.num_processes - 1} (got {args.process_id})")
        if ":" not in args.coordinator:
            raise UserError(f"--coordinator must be HOST:PORT (got {args.coordinator!r})")
    import jax

    # CPU processes exchange gradients over gloo; GPUs use NCCL regardless of this flag.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                                   process_id=args.process_id)
    except (ValueError, RuntimeError) as exc:
        hint = (" (--distributed found no cluster JAX knows: SLURM, Open MPI, Kubernetes...; "
                "pass --coordinator, --num-processes and --process-id instead)") if args.distributed else ""
        raise UserError(f"cannot join the distributed run: {exc}{hint}") from exc
    return True
