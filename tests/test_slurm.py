"""The demo DAG on a real single-node SLURM cluster on localhost, through profiles/slurm and profiles/slurm-generic.

The cluster (tests/slurm_cluster.py) needs Debian's slurmctld, slurmd, slurm-client and munge (`.ci/run`
installs them) and root; without them these tests skip. Every rule log records the SLURM job it ran in
(eegslim.logs.start_rule), which the controller must know as a completed job of this working directory.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.iocontainers import Namedlist

from eegslim.logs import start_rule
from slurm_cluster import Cluster, missing_binaries
from smk import REPO, run_profile, write_config

SLURM_OVERLAY = REPO / "tests/configs/slurm.yaml"
JOB_LINE = re.compile(r"SLURM_JOB_ID=(\d+) node=(\S+) gpus=(\S+)")
EXPECTED_LOGS = {"simulate": 1, "preprocess": 1, "split": 1, "train": 1, "prune": 1, "quantize": 2, "sensitivity": 1,
                 "report": 1}
GPU_RULES = {"train", "prune"}  # the overlay's prune recovers (trains), so it asks for a GPU too


def test_rule_log_records_the_slurm_job_only_inside_one(tmp_path, monkeypatch):
    def log_text(name: str) -> str:
        smk = SimpleNamespace(rule="split", threads=1, log=[str(tmp_path / name)], wildcards=Namedlist(),
                              input=Namedlist(), output=Namedlist(), params=Namedlist())
        for handler in start_rule(smk).handlers:
            handler.close()
        logging.getLogger("eegslim").handlers.clear()
        return (tmp_path / name).read_text()

    for var in ("SLURM_JOB_ID", "SLURMD_NODENAME", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    assert "SLURM_JOB_ID" not in log_text("local.log")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURMD_NODENAME", "node7")
    monkeypatch.setenv("SLURM_JOB_GPUS", "0")
    assert JOB_LINE.search(log_text("slurm.log")).groups() == ("4242", "node7", "0")


@pytest.fixture(scope="module")
def cluster():
    if missing := missing_binaries():
        pytest.skip(f"SLURM not installed ({', '.join(missing)} missing; .ci/run installs Debian's "
                    "slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        pytest.skip("a private SLURM cluster runs its daemons as root")
    with Cluster(gpus=1) as running:  # stops its daemons (by pid file) even when a test fails
        yield running


@pytest.fixture(scope="module", params=["slurm", "slurm-generic"])
def slurm_run(request, cluster, tmp_path_factory) -> tuple[str, Path]:
    profile = request.param
    workdir = tmp_path_factory.mktemp(profile)
    config = write_config(SLURM_OVERLAY, workdir / "slurm_config.yaml")
    code, _ = run_profile(workdir, profile, config, cluster.env)
    out = (workdir / "snakemake.out").read_text(errors="replace")
    assert code == 0, f"snakemake --profile profiles/{profile} failed ({code}):\n{out[-6000:]}\n{cluster.log_tail()}"
    return profile, workdir


def rule_logs(workdir: Path) -> dict[Path, tuple[str, int, str]]:
    """Each rule log (not benchmarks/, not SLURM's own) -> (rule, SLURM job id, GPUs) from its first lines."""
    found = {}
    for log in sorted((workdir / "logs").rglob("*.log")):
        if log.relative_to(workdir / "logs").parts[0] in ("benchmarks", "slurm"):
            continue
        text = log.read_text()
        rule = re.search(r"INFO eegslim: rule (\w+),", text)
        jobs = JOB_LINE.findall(text)
        assert rule and len(jobs) == 1, f"{log}: expected a rule line and one SLURM_JOB_ID line:\n{text[:2000]}"
        found[log] = (rule.group(1), int(jobs[0][0]), jobs[0][2])
    return found


@pytest.mark.slurm
@pytest.mark.e2e
def test_every_job_ran_inside_slurm(slurm_run, cluster):
    profile, workdir = slurm_run
    logs = rule_logs(workdir)
    assert Counter(rule for rule, _, _ in logs.values()) == EXPECTED_LOGS
    ids = [job_id for _, job_id, _ in logs.values()]
    assert len(set(ids)) == len(ids), "two rule jobs share one SLURM job"
    known = cluster.jobs()
    for path, (rule, job_id, _) in logs.items():
        job = known.get(job_id)
        assert job is not None, f"{path}: SLURM job {job_id} unknown to the controller"
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", (path, job)
        assert Path(job["WorkDir"]) == workdir, (path, job["WorkDir"])
        if profile == "slurm":  # the plugin names its jobs by run and comments them by rule
            assert re.fullmatch(rf"rule_{rule}(_wildcards_.+)?", job["Comment"]), (path, job["Comment"])
        else:
            assert job["JobName"] == f"smk-{rule}", (path, job["JobName"])


@pytest.mark.slurm
@pytest.mark.e2e
def test_training_jobs_and_only_they_got_a_gpu(slurm_run, cluster):
    _, workdir = slurm_run
    known = cluster.jobs()
    for path, (rule, job_id, gpus) in rule_logs(workdir).items():
        tres = known[job_id].get("TresPerJob", "")  # gres:gpu:N when the job asked for GPUs, absent otherwise
        requested = int(m.group(1)) if (m := re.search(r"gpu:(\d+)$", tres)) else 0
        if rule in GPU_RULES:
            assert requested == 1 and gpus != "none", (path, tres, gpus)
        else:
            assert requested == 0 and gpus == "none", (path, tres, gpus)


@pytest.mark.slurm
@pytest.mark.e2e
def test_cluster_run_completes_the_report(slurm_run):
    _, workdir = slurm_run
    assert "demo_sleep" in (workdir / "results/report.html").read_text()
    records = [json.loads(p.read_text()) for p in (workdir / "results").rglob("metrics.json")]
    assert sorted((r["method"] or "baseline", r["variant"]) for r in records) == [
        ("baseline", "fp32"), ("baseline", "torch"), ("l1_structured", "fp32"), ("l1_structured", "torch")]
