"""A private single-node SLURM cluster on localhost, from Debian's slurmctld, slurmd and munge packages.

Everything lives in one temporary directory: a munge key and socket, slurm.conf and gres.conf, the
controller's state, slurmd's spool, logs and pid files. Both daemons bind to 127.0.0.1 on free ports;
clients reach the cluster through SLURM_CONF (`Cluster.env`). The node has one partition (`debug`), the
machine's CPUs and `gpus` fake GPUs (gres backed by /dev/null) so that `--gpus=1` jobs are schedulable.
No cgroups or systemd: processes are tracked through /proc and tasks are not bound. `stop()` cancels the
cluster's jobs and ends only the daemons whose pid files it wrote. Needs root (SlurmUser=root).

    with Cluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def which(name: str) -> str | None:
    """The binary's path, also looking in the sbin directories a non-login PATH may lack."""
    return shutil.which(name, path=SEARCH_PATH)


def missing_binaries() -> list[str]:
    """Daemons and client commands that are not installed (empty when a cluster can start)."""
    return [name for name in DAEMONS + CLIENTS if which(name) is None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        return int(fh.readline().split()[1]) // 1024


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Cluster:
    """One controller, one node (`localhost`), partition `debug`; all files under `base`."""

    def __init__(self, gpus: int = 1, min_memory_mb: int = 16000, keep: bool = False):
        self.gpus = gpus
        self.min_memory_mb = min_memory_mb  # declared even on smaller machines (memory is not enforced)
        self.keep = keep
        # munged needs every directory above its socket to be searchable by all: not pytest's 0700 tmp.
        self.base = Path(tempfile.mkdtemp(prefix="eegslim-slurm-"))
        self.base.chmod(0o755)
        self.conf = self.base / "slurm.conf"
        self.socket = self.base / "munge" / "munge.socket"
        self.pid_files = {  # in stop order
            "slurmd": self.base / "run" / "slurmd.pid",
            "slurmctld": self.base / "run" / "slurmctld.pid",
            "munged": self.base / "munge" / "munged.pid",
        }
        # bin/srun re-adds SLURM_CONF: snakemake-executor-plugin-slurm-jobstep 0.6.1 strips every SLURM_*
        # variable but a few job ids before its srun inside the job, so a cluster whose slurm.conf is not
        # at /etc/slurm (or /run/slurm for configless) would be unreachable from there.
        self.env = {**os.environ, "SLURM_CONF": str(self.conf),
                    "PATH": os.pathsep.join([str(self.base / "bin"), SEARCH_PATH])}

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- start -----------------------------------------------------------------------------------
    def start(self, timeout_s: float = 60) -> None:
        """Write the configuration, start munged, slurmctld and slurmd; wait until the node is idle."""
        for sub in ("munge", "state", "spool", "run", "log", "bin"):
            (self.base / sub).mkdir(mode=0o755, exist_ok=True)
        srun = self.base / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {which("srun")} "$@"\n')
        srun.chmod(0o755)
        key = self.base / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._write_conf()
        self._daemon("munged", f"--key-file={key}", f"--socket={self.socket}",
                     f"--pid-file={self.pid_files['munged']}", f"--log-file={self.base / 'log/munged.log'}",
                     f"--seed-file={self.base / 'munge/munged.seed'}")
        self._daemon("slurmctld", "-f", str(self.conf))
        self._daemon("slurmd", "-f", str(self.conf), "-N", "localhost")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = subprocess.run([which("sinfo"), "-h", "-N", "-o", "%T"], env=self.env,
                                   capture_output=True, text=True).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"SLURM node not idle after {timeout_s} s (state {state!r}):\n{self.log_tail()}")

    def _write_conf(self) -> None:
        b = self.base
        memory = max(int(_memory_mb() * 0.9), self.min_memory_mb)
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        self.conf.write_text(f"""\
# written by tests/slurm_cluster.py: a throwaway single-node cluster on loopback
ClusterName=eegslimtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.socket}
StateSaveLocation={b}/state
SlurmdSpoolDir={b}/spool
SlurmctldPidFile={self.pid_files['slurmctld']}
SlurmdPidFile={self.pid_files['slurmd']}
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd.log
# no cgroups (containers): processes tracked through /proc, tasks not bound
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
# finished jobs stay visible to squeue/scontrol for 10 min (the slurm profile polls squeue)
MinJobAge=600
# the node is what this file says (memory may be declared above the machine's; it is not enforced)
SlurmdParameters=config_overrides
{"GresTypes=gpu" if self.gpus else ""}
NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory}{gres} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        devices = ",".join(["/dev/null"] * self.gpus)  # fake devices: only counted, never opened
        (b / "gres.conf").write_text(f"NodeName=localhost Name=gpu File={devices}\n" if self.gpus else "")

    def _daemon(self, name: str, *args: str) -> None:
        """Start a daemon that forks into the background and writes its pid file."""
        proc = subprocess.run([which(name), *args], env=self.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed to start ({proc.returncode}): {proc.stderr}\n{self.log_tail()}")
        deadline = time.monotonic() + 20
        while not self._pid(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self._pid(name):
            raise RuntimeError(f"{name} wrote no pid file {self.pid_files[name]}\n{self.log_tail()}")

    # --- inspect ---------------------------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        """The daemon's pid if its pid file names a live process started with this cluster's files."""
        try:
            pid = int(self.pid_files[name].read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) and str(self.base) in _cmdline(pid) else None

    def jobs(self) -> dict[int, dict[str, str]]:
        """Every job the controller still knows (finished ones for MinJobAge), as scontrol's key=value fields."""
        out = subprocess.run([which("scontrol"), "show", "job", "--oneliner"], env=self.env,
                             capture_output=True, text=True, check=True).stdout
        jobs = {}
        for line in out.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in fields:
                jobs[int(fields["JobId"])] = fields
        return jobs

    def log_tail(self, n: int = 15) -> str:
        """The last lines of every daemon log, for error messages."""
        parts = []
        for log in sorted((self.base / "log").glob("*.log")):
            parts.append(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:]))
        return "\n".join(parts)

    # --- stop ------------------------------------------------------------------------------------
    def stop(self, timeout_s: float = 20) -> None:
        """Cancel this cluster's jobs, end the daemons it started (by pid file), remove its directory."""
        if self._pid("slurmctld"):
            subprocess.run([which("scancel"), "--full", "--user", str(os.getuid())], env=self.env,
                           capture_output=True, timeout=30)  # reaches only this private cluster
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and any(
                    j.get("JobState") in ("RUNNING", "COMPLETING", "PENDING") for j in self._jobs_quiet()):
                time.sleep(0.5)
        for name in self.pid_files:
            pid = self._pid(name)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def _jobs_quiet(self) -> list[dict[str, str]]:
        try:
            return list(self.jobs().values())
        except (subprocess.CalledProcessError, OSError):
            return []
