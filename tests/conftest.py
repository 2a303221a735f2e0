import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.getLogger("mujoco.mjx").setLevel(logging.ERROR)
