"""Snakemake executor plugin: each job becomes a submitit job (SLURM, submitit's local cluster).

``snakemake --executor submitit --submitit-partition gpu ...`` (or a profile, see
``profiles/slurm``) submits every job through submitit with the GPUs, memory, CPUs and time its
rule declares (:mod:`.resources`). The controller stays where it was started (the login node);
jobs run the same ``python -m snakemake`` job command on the compute nodes, so the working
directory and the submitit folder must be on a filesystem shared with them.

Submission: the jobs that are ready together and ask for the same allocation (side-trips) go
out as one SLURM job array through submitit's batch submission (one ``sbatch``). Jobs with GPUs
go to ``partition``, jobs without to ``cpu-partition`` when set; the workflow runs its light
rules (figures, summaries) on the controller as ``localrules``. A ``--time`` over the
partition's MaxTime is refused before submission.
Status: one ``sacct`` call per polling round for all jobs, with back-off (:mod:`.status`).
Cancel (Ctrl-C, i.e. SIGINT): one ``scancel`` for every submitted job. Preemption and time-limit
warnings: the job wrapper requeues a job that checkpointed (:mod:`.job`). After the run: an
efficiency report from sacct, and old logs of successful jobs pruned (:mod:`.report`).
"""

import os
import shlex
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path

import submitit
import submitit.helpers
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface
from snakemake_interface_executor_plugins.settings import CommonSettings

from .job import SnakemakeJob
from .report import prune_logs, write_report
from .resources import (
    ResourceError,
    check_max_time,
    job_name,
    local_parameters,
    parse_max_times,
    parse_sbatch_options,
    slurm_parameters,
)
from .settings import CLUSTERS, ExecutorSettings
from .status import (
    REQUEUABLE_STATES,
    Backoff,
    Verdict,
    judge,
    local_state,
    parse_sacct,
    parse_squeue,
    read_outcome,
    sacct_command,
    squeue_command,
    state_of,
)

# A final state without a result file: wait this long for a shared filesystem to show it.
RESULT_GRACE_S = 60.0
# Unknown to sacct and no result: slurmdbd lags behind slurmctld; after this, give up.
UNKNOWN_GRACE_S = 600.0
# sacct failing this many rounds in a row: trust `error` result files without it.
SACCT_OUTAGE_ROUNDS = 5


common_settings = CommonSettings(
    non_local_exec=True,
    implies_no_shared_fs=False,
    job_deploy_sources=False,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    # the job command is run as an argument list, never by a shell: nothing to export in it
    # (sbatch and submitit's local cluster pass the controller's environment on)
    pass_envvar_declarations_to_cmd=False,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=1,
)


class Executor(RemoteExecutor):
    def __post_init__(self) -> None:
        self.settings: ExecutorSettings = self.workflow.executor_settings
        cluster = self.settings.cluster
        if cluster not in CLUSTERS:
            raise WorkflowError(f"submitit cluster must be one of {CLUSTERS}, not {cluster!r}")
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise WorkflowError("submitit cluster 'slurm', but sbatch is not on PATH")
        if self.workflow.remote_execution_settings.precommand:
            raise WorkflowError("--precommand is not supported: jobs run without a shell")
        try:
            parse_sbatch_options(self.settings.sbatch_extra)
        except ResourceError as e:
            raise WorkflowError(f"submitit sbatch_extra: {e}") from e
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.run_folder = (Path(self.settings.folder) / run).absolute()
        self.backoff = Backoff(self.settings.status_interval_min, self.settings.status_interval_max)
        self._lock = threading.Lock()
        self._submitted: dict[str, submitit.Job] = {}  # every job not yet judged, for cancel
        self._unsure_since: dict[str, float] = {}
        self.status_rounds = 0
        self.status_calls = 0
        self._sacct_failures = 0  # consecutive
        self._partition_limits: tuple[dict[str, int | None], str | None] | None = None
        self._judged: list[str] = []  # SLURM job ids, for the efficiency report
        if self.settings.keep_logs_days >= 0:
            pruned = prune_logs(Path(self.settings.folder), self.settings.keep_logs_days)
            if pruned:
                self.logger.info(f"submitit: pruned {pruned} logs of successful jobs")

    # -- submission ---------------------------------------------------------------------------

    def job_argv(self, job: JobExecutorInterface) -> list[str]:
        """Snakemake's job command as an argument list (it is never handed to a shell)."""
        return shlex.split(self.format_job_exec(job))

    def _parameters(self, job: JobExecutorInterface) -> dict:
        """submitit parameters of one job (raises ResourceError before anything is submitted)."""
        resources = dict(job.resources.items())
        delay = self.settings.signal_delay_s
        if self.settings.cluster == "local":
            return local_parameters(resources, signal_delay_s=delay)
        if self.settings.cluster == "debug":
            return {}
        params = slurm_parameters(
            resources,
            job.threads,
            name=job_name(job.name, getattr(job, "wildcards_dict", None)),
            partition=self.settings.partition,
            cpu_partition=self.settings.cpu_partition,
            account=self.settings.account,
            sbatch_extra=self.settings.sbatch_extra,
            signal_delay_s=delay,
            requeue=not self.settings.no_requeue,
        )
        check_max_time(job.name, params, *self._max_times(), signal_delay_s=delay)
        return params

    def _max_times(self) -> tuple[dict[str, int | None], str | None]:
        """Each partition's MaxTime, asked once per run (none known: nothing is checked)."""
        if self._partition_limits is None:
            command = ["scontrol", "show", "partition", "--oneliner"]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
                self._partition_limits = parse_max_times(proc.stdout)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.logger.warning(f"scontrol show partition failed ({e}): MaxTime not checked")
                self._partition_limits = ({}, None)
        return self._partition_limits

    def _executor(self, folder: Path, params: dict) -> submitit.Executor:
        if self.settings.cluster == "slurm":
            executor = submitit.SlurmExecutor(
                folder=folder, max_num_timeout=self.settings.max_timeouts
            )
        elif self.settings.cluster == "local":
            executor = submitit.LocalExecutor(
                folder=folder, max_num_timeout=self.settings.max_timeouts
            )
        else:
            return submitit.DebugExecutor(folder=folder)
        executor.update_parameters(**params)
        return executor

    def _function(self, job: JobExecutorInterface) -> SnakemakeJob:
        return SnakemakeJob(
            self.job_argv(job),
            os.getcwd(),
            max_timeouts=self.settings.max_timeouts,
            max_preemptions=self.settings.max_preemptions,
        )

    def run_jobs(self, jobs: list[JobExecutorInterface]) -> None:
        """Jobs of one rule with the same parameters go out as one job array (one sbatch)."""
        groups: dict[tuple, list[tuple[JobExecutorInterface, dict]]] = {}
        for job in jobs:
            self.run_job_pre(job)
            try:
                params = self._parameters(job)
            except Exception as e:  # bad resources: this job fails, before any submission
                self.report_job_error(SubmittedJobInfo(job), msg=f"submitit: {e}")
                continue
            same = {k: v for k, v in params.items() if k != "job_name"}
            arrayable = not self.settings.no_arrays and self.settings.cluster == "slurm"
            key = (job.name, repr(sorted(same.items()))) if arrayable else (id(job),)
            groups.setdefault(key, []).append((job, params))
        for members in groups.values():
            if len(members) == 1:
                self._submit(*members)
            else:  # one name for the array: the rule, the wildcards its tasks share, the count
                shared = _shared_wildcards([j for j, _ in members])
                name = f"{job_name(members[0][0].name, shared)}-x{len(members)}"
                self._submit(*members, array_name=name)

    def run_job(self, job: JobExecutorInterface) -> None:
        self.run_jobs([job])

    def _submit(
        self, *members: tuple[JobExecutorInterface, dict], array_name: str | None = None
    ) -> None:
        """One submission through submitit: a job, or an array of jobs with equal parameters."""
        jobs = [job for job, _ in members]
        names = [params.get("job_name", job.name) for job, params in members]
        params = members[0][1] if array_name is None else {**members[0][1], "job_name": array_name}
        # files named by job id (array tasks: <array>_<task>): one log per job
        folder = self.run_folder / (jobs[0].name if array_name is None else array_name)
        try:
            executor = self._executor(folder, params)
            with submitit.helpers.clean_env():  # no SLURM_* of an enclosing allocation
                if len(jobs) == 1:
                    sjobs = [executor.submit(self._function(jobs[0]))]
                else:
                    with executor.batch():
                        delayed = [executor.submit(self._function(job)) for job in jobs]
                    sjobs = delayed
        except Exception as e:  # sbatch refusing the job(s): these jobs fail
            for job in jobs:
                self.report_job_error(SubmittedJobInfo(job), msg=f"submitit submission failed: {e}")
            return
        for job, name, sjob in zip(jobs, names, sjobs, strict=True):
            # a job of n tasks (resource tasks) runs its command in task 0 alone: its log, result
            # and state are task 0's (submitit's multi-task view would wait for n results)
            sjob = sjob.task(0) if sjob.num_tasks > 1 else sjob
            log = sjob.paths.stdout
            array = "" if array_name is None else f" in array {array_name}"
            self.logger.info(
                f"Job {job.jobid} submitted as {self.settings.cluster} job {sjob.job_id} "
                f"({name}{array}; log: {log})."
            )
            with self._lock:
                self._submitted[sjob.job_id] = sjob
            aux = {"submitit": sjob, "log": log, "since": time.monotonic()}
            self.report_job_submission(SubmittedJobInfo(job, external_jobid=sjob.job_id, aux=aux))

    # -- status -------------------------------------------------------------------------------

    def _states(self, infos: list[SubmittedJobInfo]) -> dict[str, str] | None:
        """Cluster state of each job: ONE sacct call for all of them (None: sacct failed)."""
        if self.settings.cluster == "local":
            return {
                i.external_jobid: s
                for i in infos
                if (s := local_state(i.aux["submitit"].state)) is not None
            }
        if self.settings.cluster == "debug":  # already run: only failed ones get here
            return {i.external_jobid: "FAILED" for i in infos}
        self.status_calls += 1
        command = sacct_command(i.external_jobid for i in infos)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
            problem = proc.stderr.strip() if proc.returncode != 0 else None
        except (OSError, subprocess.TimeoutExpired) as e:
            problem = str(e)
        if problem is not None:
            self._sacct_failures += 1
            self.logger.warning(f"sacct failed ({problem}); job states unknown this round")
            return None
        self._sacct_failures = 0
        states = parse_sacct(proc.stdout)
        return self._requeued(states)

    def _requeued(self, states: dict[str, str]) -> dict[str, str]:
        """PREEMPTED/NODE_FAIL jobs that SLURM requeued: squeue's state instead (status.py)."""
        maybe = [job_id for job_id, state in states.items() if state in REQUEUABLE_STATES]
        if not maybe:
            return states
        try:
            proc = subprocess.run(
                squeue_command(maybe), capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            self.logger.warning(f"squeue failed ({e}); preempted jobs taken as running")
            return {**states, **dict.fromkeys(maybe, "PENDING")}
        if proc.returncode != 0:  # e.g. "Invalid job id" once every one of them has left
            return states
        return {**states, **{j: s for j, s in parse_squeue(proc.stdout).items() if j in states}}

    async def check_active_jobs(
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        self.status_rounds += 1
        if self.settings.cluster == "debug":
            outcomes = {i.external_jobid: _run_inline(i.aux["submitit"]) for i in active_jobs}
        else:
            outcomes = {
                i.external_jobid: read_outcome(i.aux["submitit"].paths.result_pickle)
                for i in active_jobs
            }
        undecided = [i for i in active_jobs if outcomes[i.external_jobid][0] != "success"]
        states: dict[str, str] | None = {}
        if undecided:
            async with self.status_rate_limiter:
                states = self._states(undecided)
        self.logger.debug(
            f"submitit status round {self.status_rounds}: {len(active_jobs)} active, "
            f"{self.status_calls} sacct calls so far"
        )
        now = time.monotonic()
        youngest: float | None = None
        for info in active_jobs:
            job_id = info.external_jobid
            outcome, detail = outcomes[job_id]
            state = None if states is None else state_of(states, job_id)
            verdict = judge(outcome, state)
            if states is None and verdict is not Verdict.SUCCESS:
                # sacct failed: no news is not bad news, unless it has been down for a while
                outage = self._sacct_failures >= SACCT_OUTAGE_ROUNDS
                verdict = Verdict.FAILED if outage and outcome == "error" else Verdict.RUNNING
            if verdict is Verdict.UNSURE:
                grace = RESULT_GRACE_S if state is not None else UNKNOWN_GRACE_S
                if now - self._unsure_since.setdefault(job_id, now) > grace:
                    verdict = Verdict.FAILED
            else:
                self._unsure_since.pop(job_id, None)
            if verdict in (Verdict.RUNNING, Verdict.UNSURE):
                if state == "RUNNING":  # age counts from the round that first saw it running
                    info.aux.setdefault("running_since", now)
                else:  # queued (again, if requeued)
                    info.aux.pop("running_since", None)
                age = now - info.aux.get("running_since", info.aux["since"])
                youngest = age if youngest is None else min(youngest, age)
                yield info
                continue
            with self._lock:
                self._submitted.pop(job_id, None)
            self._unsure_since.pop(job_id, None)
            self._judged.append(job_id)
            if verdict is Verdict.SUCCESS:
                self.report_job_success(info)
            else:
                self.report_job_error(info, msg=_failure_message(info, state, detail))
        self.next_seconds_between_status_checks = self.backoff.next(youngest)

    def shutdown(self) -> None:
        if self.status_rounds:
            self.logger.info(
                f"submitit: {self.status_rounds} status rounds, {self.status_calls} sacct calls."
            )
        if self.settings.cluster == "slurm" and self._judged:
            path = self.run_folder / "cluster_report.md"
            try:
                write_report(self._judged, path)
                self.logger.info(f"submitit: efficiency report in {path}")
            except (OSError, subprocess.SubprocessError) as e:
                self.logger.warning(f"submitit: no efficiency report ({e})")
        super().shutdown()

    # -- cancel -------------------------------------------------------------------------------

    def cancel_jobs(self, active_jobs: list[SubmittedJobInfo]) -> None:
        """Cancel every job submitted and not yet judged (Ctrl-C; SIGTERM cancels nothing)."""
        with self._lock:
            jobs = list(self._submitted.values())
            self._submitted.clear()
        if not jobs:
            return
        if self.settings.cluster == "slurm":
            ids = [j.job_id for j in jobs]
            self.logger.info(f"Cancelling SLURM jobs {' '.join(ids)}")
            proc = subprocess.run(["scancel", *ids], capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                self.logger.warning(f"scancel failed: {proc.stderr.strip()}")
            return
        for sjob in jobs:
            sjob.cancel(check=False)


def _shared_wildcards(jobs: list[JobExecutorInterface]) -> dict:
    """The wildcards with one value across ``jobs`` (in the first job's order)."""
    first = dict(getattr(jobs[0], "wildcards_dict", None) or {})
    rest = [dict(getattr(j, "wildcards_dict", None) or {}) for j in jobs[1:]]
    return {k: v for k, v in first.items() if all(w.get(k) == v for w in rest)}


def _run_inline(sjob: submitit.Job) -> tuple[str, str]:
    """submitit's debug cluster: run the job in this process now, as (outcome, detail)."""
    error = sjob.exception()
    return ("success", "") if error is None else ("error", f"{type(error).__name__}: {error}")


def _failure_message(info: SubmittedJobInfo, state: str | None, detail: str) -> str:
    where = f"log: {info.aux['log']}"
    reason = "unknown to sacct (purged?)" if state is None else f"state {state}"
    lines = [f"submitit job {info.external_jobid} failed ({reason}); {where}"]
    if detail:
        lines.append(detail.strip().splitlines()[-1])
    return "\n".join(lines) + "\n"
