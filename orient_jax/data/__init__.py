"""Synthetic images of the engine: dataset config, camera maths, sampling (plain numpy, no bpy),
the shard renderer's orchestration, the loader and on-device augmentation.

Blender itself is only touched by the scripts in `blender/` (run as subprocesses); everything
here imports without bpy so it can be tested and used for training on machines without it.
"""
