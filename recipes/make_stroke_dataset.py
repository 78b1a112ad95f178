#!/usr/bin/env python
"""Render uniform random actions with MyPaint into stroke shards (resumable).

    python recipes/make_stroke_dataset.py --out data/strokes --num 100000 --shard-size 4096 --workers 2

Rerunning the same command after a kill renders only the missing shards: the result has exactly
--num samples, each shard drawn from (seed, shard index) alone.
"""
import argparse
import json
import multiprocessing as mp
import sys
from pathlib import Path


from strokeparam.data import SHARD_FORMAT, render_shard, shard_paths
from strokeparam.files import atomic_write_bytes, read_json
from strokeparam.locks import FolderLock, FolderLockedError
from strokeparam.progress import progress


MAX_NUM = 10 ** 8      # strokes: 24,415 shards of 4096, ~400 GB of 64 px alpha (--num 10**12 stalled listing shards)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--num", required=True, type=int, help="number of strokes")
    p.add_argument("--shard-size", type=int, default=4096, help="strokes per shard")
    p.add_argument("--workers", type=int, default=1, help="rendering processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--brush", default="classic/dry_brush")
    p.add_argument("--size", type=int, default=64, help="canvas side in pixels")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for name in ("num", "shard_size", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.num > MAX_NUM:
        p.error(f"--num must be in [1, {MAX_NUM}] strokes, got {args.num}")
    if args.seed < 0:
        p.error("--seed must be >= 0")

    from strokeparam.mypaint import MyPaintRenderer
    try:
        MyPaintRenderer(args.brush, args.size)        # fail early on a bad brush or size
    except (ValueError, KeyError, FileNotFoundError) as exc:
        p.error(str(exc).strip("'\""))

    lock = FolderLock(args.out, "stroke dataset folder")
    try:                                  # one writer per folder, held until the last shard is in
        lock.acquire()
    except (FolderLockedError, OSError) as exc:
        raise SystemExit(f"make_stroke_dataset: error: {exc}") from None
    try:
        return _write(args, p)
    finally:
        lock.release()


def _write(args, p) -> int:
    """Check or write meta.json, then render the missing shards into ``args.out`` (locked by the caller)."""
    num_shards = -(-args.num // args.shard_size)
    meta = dict(format=SHARD_FORMAT, num=args.num, shard_size=args.shard_size, num_shards=num_shards,
                seed=args.seed, brush=args.brush, size=args.size)
    meta_path = args.out / "meta.json"
    if meta_path.exists():
        try:
            old = read_json(meta_path, "stroke shard metadata")
        except ValueError as exc:
            p.error(f"{exc}; move the folder away or choose another --out")
        if old != meta:
            p.error(f"{args.out} already holds a different dataset ({old}); choose another --out")
    else:
        atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())
    for stale in args.out.glob(".*.tmp"):     # left by a killed writer: nobody else holds the lock
        stale.unlink(missing_ok=True)

    todo = [k for k in range(num_shards) if not shard_paths(args.out, k)[0].is_file()]
    jobs = [(args.out, k, min(args.shard_size, args.num - k * args.shard_size), args.seed, args.brush, args.size)
            for k in todo]
    done = args.num - sum(j[2] for j in jobs)
    bar = progress(total=args.num, initial=done, unit="stroke", disable=args.no_progress, desc="strokes")
    if args.workers == 1 or len(jobs) <= 1:
        for job in jobs:
            bar.update(render_shard(*job))
    else:
        with mp.get_context("fork").Pool(args.workers) as pool:
            for count in pool.imap_unordered(_render, jobs):
                bar.update(count)
    bar.close()
    return 0


def _render(job):
    return render_shard(*job)


if __name__ == "__main__":
    sys.exit(main())
