#!/usr/bin/env bash
# The Slurm hand-off against a real Slurm: a one-node cluster (munged + slurmctld + slurmd) started on
# this machine's loopback, a reduced CPU study submitted with `vrft study --submit slurm`, followed
# with `--status` until its report job has rendered the report, then the cluster stopped.
#
#   bash scripts/slurm_local_test.sh            # needs root and Debian's slurm-wlm + munge:
#   apt-get install -y --no-install-recommends slurm-wlm munge
#
# Everything (config, state, logs, the study's outputs) lives in one temporary folder, removed at the
# end unless KEEP=1; the daemons use their own socket, ports and pid files, so a system Slurm or
# munge on the same machine is left alone. Takes 2-5 minutes on 2 cores (the tiny instruct base is
# built first if this machine has not cached it yet). Exit status 0 when every run and the report
# are done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
TIMEOUT_S="${TIMEOUT_S:-900}"

die() { echo "slurm_local_test: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as their user; munged as the munge user)."
for cmd in munged slurmctld slurmd sbatch squeue; do
  command -v "$cmd" >/dev/null || die "'$cmd' not found: apt-get install -y --no-install-recommends slurm-wlm munge"
done
id munge >/dev/null 2>&1 || die "no 'munge' user: install Debian's munge package."
[ -x "$PY" ] || die "no Python at $PY: run 'make setup' first (or set PY)."

WORK="$(mktemp -d /tmp/vrft-slurm-test.XXXXXX)"
chmod 755 "$WORK"
mkdir -p "$WORK"/{munge,state,spool,log}
cleanup() {
  local code=$?
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$WORK/slurmctld.pid" ]; then
    # let finished jobs leave the queue (a job ends a moment after its last file), cancel the rest
    for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    jobs_left="$(squeue -h -o %i 2>/dev/null || true)"
    if [ -n "$jobs_left" ]; then
      scancel $jobs_left 2>/dev/null || true
      for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
    fi
  fi
  for pidfile in "$WORK/slurmd.pid" "$WORK/slurmctld.pid" "$WORK/munge/munged.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ "$code" != 0 ]; then
    echo "---- slurmctld log (tail)"; tail -n 20 "$WORK/log/slurmctld.log" 2>/dev/null || true
    echo "---- slurmd log (tail)"; tail -n 20 "$WORK/log/slurmd.log" 2>/dev/null || true
    for f in "$WORK"/out/slurm/*_log.err; do [ -f "$f" ] && { echo "---- $f (tail)"; tail -n 20 "$f"; }; done
  fi
  if [ "${KEEP:-0}" = 1 ] || [ "$code" != 0 ]; then echo "slurm_local_test: files kept in $WORK"; else rm -rf "$WORK"; fi
  exit "$code"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT="$(free_port)"; SLURMD_PORT="$(free_port)"
NODE="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"

# munge: its own key (private folder), socket (a folder everyone may enter) and pid file
mkdir -p "$WORK/munge-socket"
chown munge:munge "$WORK/munge" "$WORK/munge-socket"; chmod 700 "$WORK/munge"; chmod 755 "$WORK/munge-socket"
dd if=/dev/urandom bs=1 count=1024 of="$WORK/munge/munge.key" status=none
chown munge:munge "$WORK/munge/munge.key"; chmod 400 "$WORK/munge/munge.key"
SOCKET="$WORK/munge-socket/munge.socket"
runuser -u munge -- munged --socket="$SOCKET" --key-file="$WORK/munge/munge.key" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/munged.seed"

cat > "$WORK/slurm.conf" <<EOF
ClusterName=vrfttest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=vrfttest Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$WORK/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE '^idle' && break
  sleep 1
done
sinfo -h -o '%T' | grep -qE '^idle' || { sinfo || true; die "the node did not come up"; }
echo "slurm_local_test: one-node cluster up ($NODE, $CPUS CPUs), SLURM_CONF=$SLURM_CONF"

# A reduced CPU study: one benchmark, training-free, SFT and RFT, a few steps each, 1 CPU per job.
cat > "$WORK/study.yaml" <<EOF
name: slurm_test
description: Reduced CPU study for the real-Slurm test of the cluster hand-off.
synthetic: true
seeds: [0]
model: tiny
benchmarks:
  synthetic_banner:
    label: Banner-Analysis
    task_kind: binary
    data: {name: synthetic_banner, train_limit: 32, eval_limit: 8, classes_in_prompt: true}
variants: [training_free, sft, rft]
rft:
  trainer: {max_steps: 2, num_generations: 4, per_device_train_batch_size: 8, gradient_accumulation_steps: 1,
            max_completion_length: 16, learning_rate: 1.0e-4}
sft:
  trainer: {max_steps: 2, per_device_train_batch_size: 8, gradient_accumulation_steps: 1, learning_rate: 1.0e-4}
evaluation: {modes: [no_think, think], max_new_tokens: 16, batch_size: 8}
run_defaults: {device: cpu, keep_checkpoints: 1, save_steps: 2}
reference: paper_table1
slurm:
  partition: vrfttest
  train: {time: "00:20:00", cpus: 1}
  evaluate: {time: "00:20:00", cpus: 1}
  report: {time: "00:20:00", cpus: 1}
EOF

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
cd "$ROOT"
"$PY" -m vrft_lib.cli tiny-base >/dev/null   # built once, here, rather than in three jobs at once
"$PY" -m vrft_lib.cli study "$WORK/study.yaml" --out "$WORK/out" --submit slurm

deadline=$(( $(date +%s) + TIMEOUT_S ))
while :; do
  status="$("$PY" -m vrft_lib.cli study "$WORK/study.yaml" --out "$WORK/out" --status)"
  report_state="$(echo "$status" | awk '$1 == "report" {print $3}')"
  case "$report_state" in
    done) break ;;
    FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$status"; die "the report job ended $report_state" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || { echo "$status"; squeue || true; die "no report after ${TIMEOUT_S}s"; }
  sleep 5
done
echo "$status"
test -f "$WORK/out/report.html" || die "no report.html"
test "$(echo "$status" | awk 'NR > 1 && $3 != "done"' | wc -l)" = 0 || die "some runs are not done"
for run in training_free sft rft; do
  test -f "$WORK/out/runs/synthetic_banner/$run/seed0/DONE" || die "run $run has no DONE marker"
done
test "$(ls "$WORK"/out/slurm/*_submission.sh | wc -l)" = 4 || die "expected 4 sbatch scripts"
echo "slurm_local_test: OK (3 run jobs and the report job ran under Slurm)"
