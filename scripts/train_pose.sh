#!/usr/bin/env bash
# The shipped pose model (~2.3 h on 2 CPU cores: 40 min render, 98 min training; every step resumes where it stopped when rerun).
#   1. training set: 40 000 Cycles renders (seed 1, 8 samples), one Blender process per core
#   2. held-out set: 1 000 renders with seed 2, never used for training or model choice
#   3. the `full` training preset: 15 000 steps x 64 images, cosine schedule
#   4. held-out error, plots, worst images and pose_error_model.json (in runs/pose-full/eval)
# Then ship it (export runs the parity gate):
#   rm -rf models/checkpoints/pose && cp -r runs/pose-full/pose models/checkpoints/pose && cp -r runs/pose-full/eval models/checkpoints/pose/
#   orient-jax export --browser
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/orient-jax data render --out "${DATA:-data}/train-40k" --num-images 40000 --seed 1 --samples 8 --workers "$(nproc)" --no-progress
.venv/bin/orient-jax data render --out "${DATA:-data}/val-1k" --num-images 1000 --seed 2 --samples 8 --workers "$(nproc)" --no-progress
.venv/bin/orient-jax train-pose --data "${DATA:-data}/train-40k" --val "${DATA:-data}/val-1k" --preset full \
  --workdir "${RUN:-runs/pose-full}" --no-progress
.venv/bin/orient-jax eval-pose --model "${RUN:-runs/pose-full}/pose" --data "${DATA:-data}/val-1k"
