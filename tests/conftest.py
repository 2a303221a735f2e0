import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# One compilation cache for the whole session (orient_jax/compile_cache.py): the controller makes
# a fresh folder before the xdist workers start, and the workers and every CLI subprocess they
# run inherit it, so a program compiled by one test (the tiny PPO update, the MJX step) is loaded
# by the next instead of compiled again. Fresh per session: the suite's time is a cold start's.
_CACHE_OWNER = "ORIENT_JAX_TEST_CACHE_OWNER"

# The suite is bound by XLA compiles (most tests compile a program and run it briefly), so it
# compiles with LLVM's optimisation level 0: a tiny training run took 26 s instead of 38 s here
# (both while another job shared the cores). Programs run a little slower and every comparison a test makes is between programs
# compiled alike (the flag is inherited by workers and subprocesses); what ships and what users
# run is compiled at XLA's default level.
SUITE_XLA_FLAGS = "--xla_backend_optimization_level=0"


def pytest_configure(config):
    from orient_jax import compile_cache

    if not os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get(_CACHE_OWNER):
        os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
        os.environ[compile_cache.ENV] = tempfile.mkdtemp(prefix="orient-jax-xla-")
        os.environ[_CACHE_OWNER] = str(os.getpid())
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SUITE_XLA_FLAGS}".strip()
    compile_cache.enable()


def pytest_unconfigure(config):
    from orient_jax import compile_cache

    if os.environ.get(_CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ[compile_cache.ENV], ignore_errors=True)


# `scripts/test.sh` runs the files on two xdist workers, whole files in collection order
# (--dist loadfile --no-loadscope-reorder): the longest files go first so that the workers
# finish together. Measured on 2 cores with `--durations=0`, summed per file; the rest follow
# in their usual order.
LONGEST_FIRST = ("test_envs.py", "test_pipeline.py", "test_web.py", "test_shac.py", "test_train_cli.py",
                 "test_distributed.py", "test_object_pipeline.py", "test_reflex.py", "test_ppo.py", "test_cli.py",
                 "test_shipped_policies.py", "test_trajopt.py", "test_symmetry.py", "test_rotations.py", "test_pose.py", "test_export.py",
                 "test_evaluate.py", "test_memory.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file keeps its order
