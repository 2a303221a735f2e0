import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# `scripts/test.sh` runs the files on two xdist workers, whole files in collection order
# (--dist loadfile --no-loadscope-reorder): the longest files go first so that the workers
# finish together. Measured on 2 cores with `--durations=0`, summed per file; the rest follow
# in their usual order.
LONGEST_FIRST = ("test_web.py", "test_pipeline.py", "test_object_pipeline.py", "test_envs.py", "test_distributed.py",
                 "test_train_cli.py", "test_cli.py", "test_ppo.py", "test_evaluate.py", "test_export.py", "test_parity.py", "test_trajopt.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file keeps its order
