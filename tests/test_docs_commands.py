"""Every command a user is told to type works as typed (as a dry run).

Documented commands: the lines of README.md's (and docs/*.md's) ```bash blocks, and the `snakemake ...`,
`make ...` and `python -m eegslim...` commands of `#` comment lines in config.yaml, configs/*.yaml,
profiles/*/config.yaml and the Snakefile. Each runs exactly as written in one scratch copy of the repository
(`repo_copy`), with only a dry-run flag added: `snakemake ...` gets `-n -q rules`; `make run ...` and
`make demo` get `SNAKEMAKE_ARGS=-n -q rules`; `python -m eegslim...` and `cp ...` run as they are.
Commands that cannot be dry-run are listed in NOT_RUN with the reason; a documented command that is neither
runnable nor listed fails, so a new command in the docs cannot slip through unchecked.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from smk import REPO, SNAKEMAKE

DRY_RUN = ["-n", "-q", "rules"]  # -q rules: the full grid's 11,330 jobs are not listed one by one
NOT_RUN = {
    "make test": "runs the test suite itself (this test included); make demo and make run cover the venv rules",
}
COPIED = ("Snakefile", "workflow", "scripts", "envs", "eegslim", "config.yaml", "configs", "profiles", "Makefile",
          "pyproject.toml")  # fmt: skip
COMMENT_SOURCES = ("config.yaml", "configs/*.yaml", "profiles/*/config.yaml", "Snakefile")
MARKDOWN_SOURCES = ("README.md", "docs/*.md")
COMMENT_COMMAND = re.compile(r"^#\s+((?:snakemake|make|python -m eegslim)\b.*)$")


def _files(patterns: tuple[str, ...]) -> list[Path]:
    return [path for pattern in patterns for path in sorted(REPO.glob(pattern))]


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for every documented command, in document order; `where` is `file:line`."""
    found = []
    for path in _files(MARKDOWN_SOURCES):
        in_bash, pending = False, ""
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("```"):
                in_bash = line.strip() == "```bash"
                continue
            text = pending + line.strip()
            if not in_bash or not text or text.startswith("#"):
                continue
            if text.endswith("\\"):  # a continued line: joined with the next one
                pending = text[:-1] + " "
                continue
            pending = ""
            found.append((f"{path.relative_to(REPO)}:{number}", text))
    for path in _files(COMMENT_SOURCES):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if match := COMMENT_COMMAND.match(line.strip()):
                found.append((f"{path.relative_to(REPO)}:{number}", match.group(1)))
    return found


def words(command: str) -> list[str]:
    """The command's words as a shell reads them, without its trailing `# comment`."""
    return shlex.split(command, comments=True)


def plain(command: str) -> str:
    return " ".join(words(command))


COMMANDS = documented_commands()


def how_to_run(argv: list[str]) -> list[str] | None:
    """The dry-run form of a documented command (as argv), or None when there is none."""
    if argv[0] == "snakemake":
        return [str(SNAKEMAKE), *argv[1:], *DRY_RUN]
    if argv[:2] in (["make", "run"], ["make", "demo"]):
        return [*argv, "SNAKEMAKE_ARGS=" + " ".join(DRY_RUN)]
    if argv[:3] == ["python", "-m", "eegslim.verify"]:
        return [sys.executable, *argv[1:]]
    if argv[0] == "cp":
        return argv
    return None


def config_files(argv: list[str]) -> list[str]:
    """The config files a command names: the words after --configfile, or make's CONFIG=."""
    files = []
    for i, word in enumerate(argv):
        if word == "--configfile":
            for name in argv[i + 1 :]:
                if name.startswith("-"):
                    break
                files.append(name)
        elif word.startswith("CONFIG="):
            files += word.removeprefix("CONFIG=").split()
    return files


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """A copy of the repository at <tmp>/eegslim with `../shared` beside it (a link to the real recordings
    when they exist), my_config.yaml copied from config.yaml as README tells, and a .venv whose bin/ is this
    interpreter's and counts as installed, so `make run` reuses it and never installs anything."""
    root = tmp_path_factory.mktemp("docs")
    work = root / "eegslim"
    work.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in COPIED:
        src = REPO / name
        shutil.copytree(src, work / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, work / name)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (root / "shared").symlink_to(shared)
    shutil.copy(work / "config.yaml", work / "my_config.yaml")
    (work / ".venv").mkdir()
    (work / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    (work / ".venv" / ".installed").touch()
    assert subprocess.run(["make", "-q", ".venv/.installed"], cwd=work).returncode == 0, "make would reinstall"
    return work


def prepare_data(work: Path, argv: list[str]) -> None:
    """Give every dataset root of the command's configs what a dry run needs: real recordings under
    ../shared (skip when absent), an empty folder for data that is not here (resources/raw/...)."""
    for name in config_files(argv):
        cfg = yaml.safe_load((work / name).read_text()) or {}
        for dataset, entry in (cfg.get("datasets") or {}).items():
            if "simulate" in entry:
                continue  # written by the `simulate` rule
            root = work / entry["root"]
            if entry["root"].startswith("../shared/"):
                if not root.is_dir():
                    pytest.skip(f"{dataset}: real recordings not found at {root.resolve()}")
            elif not Path(entry["root"]).is_absolute():
                root.mkdir(parents=True, exist_ok=True)  # TUH data are not here: the config check needs the folder


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w} {plain(c)}" for w, c in COMMANDS])
def test_documented_command_runs(repo_copy, where, command):
    argv = words(command)
    if plain(command) in NOT_RUN:
        pytest.skip(f"not run: {NOT_RUN[plain(command)]}")
    run = how_to_run(argv)
    assert run is not None, (f"{where}: `{command}` is neither run by this test nor listed in NOT_RUN: teach "
                             "how_to_run to dry-run it, or add it to NOT_RUN with the reason")  # fmt: skip
    prepare_data(repo_copy, argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_copy), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(run, cwd=repo_copy, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{where}: `{command}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


def test_commands_found_and_not_run_list_current():
    """The extraction sees the known commands, and every NOT_RUN entry is still documented."""
    documented = {plain(c) for _, c in COMMANDS}
    assert "cp config.yaml my_config.yaml" in documented and "make run CONFIG=my_config.yaml" in documented
    assert any(w.startswith("configs/eegmat.yaml") for w, _ in COMMANDS)
    assert any(w.startswith("Snakefile") for w, _ in COMMANDS)
    assert not set(NOT_RUN) - documented, f"NOT_RUN lists commands no longer documented: {set(NOT_RUN) - documented}"


def test_configfile_takes_the_target_as_a_config(repo_copy):
    """Why the order matters: with the target after --configfile, Snakemake reads it as a second config file."""
    argv = words("snakemake --cores 8 --replace-workflow-config --configfile my_config.yaml results/report.html")
    proc = subprocess.run([str(SNAKEMAKE), *argv[1:], "-n"], cwd=repo_copy, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo_copy)})  # fmt: skip
    assert proc.returncode != 0 and "results/report.html" in proc.stdout + proc.stderr
