#!/usr/bin/env bash
# The shipped goal policy, in stages (~7.5 h on 2 CPU cores; each stage resumes when rerun).
#   1. plain PPO from random init (the `goal` preset: 30 M steps)
#   2.-4. warm starts with a curriculum: a share of the episodes starts set down upright, the
#      pose a dropped engine most often settles in and the trap stage 1 never learns to leave
#      (it takes a full-torque tip over a base edge); fresh exploration at each stage start.
#   5.-7. the same with every rest a drop ends in (on a side, upside down...) as a start too.
#   8.-9. and starts at rest in the settled pose nearest the target: where the failures stop.
#   10.-11. memory (env.memory: moving averages of the policy's features, an input and output of
#      the exported graph), grown from stage 9's actor as the same function; a quarter of the
#      episodes restart where stage 9 stalls (a start bank of its failed episodes' states).
#   12.-14. a reshaped reward: half the alignment term, which still pays 97 % of its maximum
#      20 deg short of the target where the stalls sit; then twice the success bonus. The
#      critic learns the new reward alone for the first 20 updates of a change.
#   Last, no training: stage 14's network wrapped in the stall reflex (sim/reflex.py: a stall
#      at the torque limit is pushed back for 0.3 s, then the network tries again), the
#      shipped policy (models/checkpoints/goal).
# Then: orient-jax eval --policy runs/goal/shipped
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-runs/goal}
train() { .venv/bin/orient-jax train --env goal --preset goal --no-progress "$@"; }
train --workdir "$root/stage1"
train --workdir "$root/stage2" --init-from "$root/stage1" --warm-start-std 0.2 \
  --set ppo.total_steps=20000000 --set ppo.learning_rate=3e-4 --set env.upright_start_fraction=0.3
train --workdir "$root/stage3" --init-from "$root/stage2" --warm-start-std 0.12 \
  --set ppo.total_steps=30000000 --set ppo.learning_rate=3e-4 --set env.upright_start_fraction=0.5
train --workdir "$root/stage4" --init-from "$root/stage3" --warm-start-std 0.08 \
  --set ppo.total_steps=15000000 --set ppo.learning_rate=3e-4 --set env.upright_start_fraction=0.5
train --workdir "$root/stage5" --init-from "$root/stage4" --warm-start-std 0.1 \
  --set ppo.total_steps=25000000 --set ppo.learning_rate=3e-4 --set env.upright_start_fraction=0.2 \
  --set env.rest_start_fraction=0.4
train --workdir "$root/stage6" --init-from "$root/stage5" --warm-start-std 0.06 \
  --set ppo.total_steps=20000000 --set ppo.learning_rate=2e-4 --set env.upright_start_fraction=0.25 \
  --set env.rest_start_fraction=0.25
train --workdir "$root/stage7" --init-from "$root/stage6" --warm-start-std 0.05 \
  --set ppo.total_steps=20000000 --set ppo.learning_rate=1.5e-4 --set env.upright_start_fraction=0.25 \
  --set env.rest_start_fraction=0.25
train --workdir "$root/stage8" --init-from "$root/stage7" --warm-start-std 0.06 \
  --set ppo.total_steps=20000000 --set ppo.learning_rate=1.5e-4 --set env.upright_start_fraction=0.15 \
  --set env.rest_start_fraction=0.2 --set env.near_rest_start_fraction=0.3
train --workdir "$root/stage9" --init-from "$root/stage8" --warm-start-std 0.05 \
  --set ppo.total_steps=16000000 --set ppo.learning_rate=1e-4 --set env.upright_start_fraction=0.1 \
  --set env.rest_start_fraction=0.2 --set env.near_rest_start_fraction=0.4
.venv/bin/python experiments/collect_stall_starts.py --policy "$root/stage9/policy" --out "$root/stall_starts.npz"
train --workdir "$root/stage10" --init-from "$root/stage9/policy" --warm-start-std 0.06 --set ppo.actor_frozen_updates=40 \
  --set env.memory=true --set ppo.learning_rate=1e-4 --set ppo.tanh_grad_floor=0.1 --set ppo.total_steps=20000000 \
  --set env.upright_start_fraction=0.1 --set env.rest_start_fraction=0.15 --set env.near_rest_start_fraction=0.25 \
  --set env.stall_start_fraction=0.25 --set env.stall_starts="$root/stall_starts.npz"
train --workdir "$root/stage11" --init-from "$root/stage10" \
  --set env.memory=true --set ppo.learning_rate=1e-4 --set ppo.tanh_grad_floor=0.1 --set ppo.total_steps=20000000 \
  --set env.upright_start_fraction=0.1 --set env.rest_start_fraction=0.15 --set env.near_rest_start_fraction=0.25 \
  --set env.stall_start_fraction=0.25 --set env.stall_starts="$root/stall_starts.npz"
train --workdir "$root/stage12" --init-from "$root/stage11" \
  --set env.memory=true --set ppo.learning_rate=1e-4 --set ppo.tanh_grad_floor=0.1 --set ppo.total_steps=20000000 \
  --set env.upright_start_fraction=0.1 --set env.rest_start_fraction=0.15 --set env.near_rest_start_fraction=0.25 \
  --set env.stall_start_fraction=0.25 --set env.stall_starts="$root/stall_starts.npz" \
  --set env.reward.alignment=0.5 --set ppo.actor_frozen_updates=20
train --workdir "$root/stage13" --init-from "$root/stage12" \
  --set env.memory=true --set ppo.learning_rate=1e-4 --set ppo.tanh_grad_floor=0.1 --set ppo.total_steps=20000000 \
  --set env.upright_start_fraction=0.1 --set env.rest_start_fraction=0.15 --set env.near_rest_start_fraction=0.25 \
  --set env.stall_start_fraction=0.25 --set env.stall_starts="$root/stall_starts.npz" \
  --set env.reward.alignment=0.5
train --workdir "$root/stage14" --init-from "$root/stage13" \
  --set env.memory=true --set ppo.learning_rate=1e-4 --set ppo.tanh_grad_floor=0.1 --set ppo.total_steps=20000000 \
  --set env.upright_start_fraction=0.1 --set env.rest_start_fraction=0.15 --set env.near_rest_start_fraction=0.25 \
  --set env.stall_start_fraction=0.25 --set env.stall_starts="$root/stall_starts.npz" \
  --set env.reward.alignment=0.5 --set env.reward.success=4.0 --set ppo.actor_frozen_updates=20
.venv/bin/orient-jax reflex "$root/stage14/policy" --out "$root/shipped"
