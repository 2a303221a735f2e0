#!/usr/bin/env bash
# The shipped pose model (~2.3 h on 2 CPU cores: 40 min render, 98 min training; every step resumes where it stopped when rerun).
#   1. training set: 40 000 Cycles renders (seed 1, 8 samples), one Blender process per core
#   2. held-out set: 1 000 renders with seed 2, never used for training or model choice
#   3. the `full` training preset: 15 000 steps x 64 images, cosine schedule
#   4. held-out error, plots, worst images and pose_error_model.json (in runs/pose-full/eval)
# The shipped model was rendered with the classic randomization (studio lighting, plain
# backgrounds: DR=classic, the default here, renders those bytes again); DR=wide renders with the
# lighting and background families, exposure and blur that `data render` now draws by default
# (docs/data.md), into data/*-wide and runs/pose-full-wide.
# Then ship it (export runs the parity gate):
#   rm -rf models/checkpoints/pose && cp -r runs/pose-full/pose models/checkpoints/pose && cp -r runs/pose-full/eval models/checkpoints/pose/
#   orient-jax export --browser
set -euo pipefail
cd "$(dirname "$0")/.."
case "${DR:-classic}" in
  classic) dr=(--set "dr.light_families=studio" --set "dr.background_families=plain" --set dr.exposure_ev=0 --set dr.blur_px=0); tag="" ;;
  wide) dr=(); tag="-wide" ;;
  *) echo "error: DR must be classic or wide, not '${DR}'" >&2; exit 2 ;;
esac
.venv/bin/orient-jax data render --out "${DATA:-data}/train-40k$tag" --num-images 40000 --seed 1 --samples 8 --workers "$(nproc)" --no-progress "${dr[@]}"
.venv/bin/orient-jax data render --out "${DATA:-data}/val-1k$tag" --num-images 1000 --seed 2 --samples 8 --workers "$(nproc)" --no-progress "${dr[@]}"
.venv/bin/orient-jax train-pose --data "${DATA:-data}/train-40k$tag" --val "${DATA:-data}/val-1k$tag" --preset full \
  --workdir "${RUN:-runs/pose-full$tag}" --no-progress
.venv/bin/orient-jax eval-pose --model "${RUN:-runs/pose-full$tag}/pose" --data "${DATA:-data}/val-1k$tag"
