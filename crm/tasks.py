"""Celery tasks. The work is in crm.services.jobs; a task only calls it."""

from celery import shared_task

from crm.services.daily_figures import daily_figures_aggregate
from crm.services.jobs import jobs_run


@shared_task(name="crm.run_job")
def run_job(job_id: int) -> str | None:
    job = jobs_run(job_id=job_id)
    return None if job is None else job.state


@shared_task(name="crm.aggregate_dashboard")
def aggregate_dashboard() -> list[int]:
    return list(daily_figures_aggregate())
