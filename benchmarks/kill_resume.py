"""Crash safety: SIGKILL a small demo run at seeded random moments, resume after each kill, verify the end result.

    .venv/bin/python benchmarks/kill_resume.py --workdir /tmp/kill_resume --kills 10 --seed 0

The workdir is a copy of the workflow with the small config of tests/mini.py (demo_sleep, EEGNet, 2 seeds,
12 jobs). Each round starts `snakemake --rerun-incomplete` (default target: the report and every intermediate)
in its own process group, waits until one job of the round has finished (so that every round makes progress
and the kills spread over the stages instead of hitting the longest job again and again), waits a further
random 0.5..`--max-delay` s, then SIGKILLs the whole group and every descendant (jobs included): no handler
runs, exactly like a power cut of the node. Snakemake's lock is left behind, so each resume first runs
`snakemake --unlock`. A round that finishes before its kill does not count; the next round then reruns
everything (`--forceall`), so later kills also hit jobs that replace existing outputs. After `--kills` kills
one resume runs to the end; then every output is checked with eegslim.verify (h5 windows vs summary.json,
checkpoints, JSON, ONNX, no `*.tmp-*` left) and a dry run must plan nothing (no output missing).
Prints a JSON report; exit 1 if the final run failed or a check found a problem.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from mini import command, env, mini_workdir  # noqa: E402

from eegslim.verify import verify  # noqa: E402

TARGET = ()  # the default target `all`: the report and every intermediate (see common.smk every_output)


def running_rules(proc: psutil.Process) -> list[str]:
    """Rules of the jobs running under snakemake `proc` (their script names: .snakemake/scripts/tmpXXX.<rule>.py)."""
    rules = []
    for child in proc.children(recursive=True):
        try:
            args = child.cmdline()
        except psutil.Error:
            continue
        rules += [a.rsplit(".", 2)[-2] for a in args if ".snakemake/scripts/" in a and a.endswith(".py")]
    return sorted(rules)


def kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL snakemake's process group and any descendant that left it."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    os.killpg(proc.pid, signal.SIGKILL)
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    psutil.wait_procs(descendants, timeout=10)


def resume(workdir: Path, log, force: bool = False) -> subprocess.Popen:
    """Unlock, then start `snakemake --rerun-incomplete` (and `--forceall` if `force`) in a new process group."""
    subprocess.run(command("--unlock", *TARGET), cwd=workdir, env=env(workdir), stdout=log, stderr=subprocess.STDOUT,
                   check=True)
    args = ["--rerun-incomplete", *(["--forceall"] if force else []), *TARGET]
    return subprocess.Popen(command(*args), cwd=workdir, env=env(workdir), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_a_finished_job(proc: subprocess.Popen, log_path: Path, offset: int) -> None:
    """Return once the snakemake run logging to `log_path` (from byte `offset` on) reports a finished job, or exits."""
    while proc.poll() is None and b"Finished jobid" not in log_path.read_bytes()[offset:]:
        time.sleep(0.2)


def kill_resume(workdir: Path, kills: int, seed: int, max_delay: float) -> dict:
    """Run the kill/resume rounds in `workdir` (created if missing); return the report."""
    if not (workdir / "Snakefile").exists():
        mini_workdir(workdir)
    rng = random.Random(seed)
    interrupted, rounds, force = Counter(), [], False
    started = time.perf_counter()
    log_path = workdir / "kill_resume.log"
    with open(log_path, "a", encoding="utf-8") as log:
        while sum("killed_jobs" in r for r in rounds) < kills and len(rounds) < 3 * kills:
            log.flush()
            offset = log_path.stat().st_size
            proc = resume(workdir, log, force)
            wait_for_a_finished_job(proc, log_path, offset)
            delay = rng.uniform(0.5, max_delay)
            entry = {"round": len(rounds), "delay_s": round(delay, 2), "forceall": force}
            try:
                entry["finished_before_kill"] = proc.wait(timeout=delay)  # its exit code
                force = True
            except subprocess.TimeoutExpired:
                entry["killed_jobs"] = running_rules(psutil.Process(proc.pid))
                kill_all(proc)
                interrupted.update(entry["killed_jobs"])
                force = False
            rounds.append(entry)
        final_rc = resume(workdir, log).wait()
    counts, problems = verify(workdir / "results", workdir / "resources")
    plan = subprocess.run(command("-n", *TARGET), cwd=workdir, env=env(workdir), capture_output=True, text=True)
    if "Nothing to be done" not in plan.stdout + plan.stderr:
        problems.append(f"the run is not complete after the last resume:\n{plan.stdout[-2000:]}")
    return {
        "kills": sum("killed_jobs" in r for r in rounds),
        "kills_during_a_job": sum(bool(r.get("killed_jobs")) for r in rounds),
        "jobs_killed_by_rule": dict(sorted(interrupted.items())),
        "rounds_finished_before_kill": sum("finished_before_kill" in r for r in rounds),
        "rounds": rounds,
        "final_exit_code": final_rc,
        "verified": dict(sorted(counts.items())),
        "problems": problems,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=10.0,
                        help="longest wait after a finished job before the kill, s")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = kill_resume(args.workdir, args.kills, args.seed, args.max_delay)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report["final_exit_code"] == 0 and not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
