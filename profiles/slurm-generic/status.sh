#!/usr/bin/env bash
# Snakemake cluster-generic status command. $1 = the job id printed by `sbatch --parsable`.
# Prints exactly one of: running | success | failed. Works with or without SLURM accounting.
jobid=${1%%;*}
state=$(sacct -X -n -P -j "$jobid" -o State 2>/dev/null | head -n1 | awk '{print $1}')
[[ -z $state ]] && state=$(scontrol show job "$jobid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
case $state in
  COMPLETED) echo success ;;
  PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|PREEMPTED|SIGNALING|STAGE_OUT|"") echo running ;;
  *) echo failed ;;
esac
