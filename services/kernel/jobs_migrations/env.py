"""Alembic env of the kernel's job-lease table, applied to every service's own database."""

from services.kernel.jobs import metadata
from services.kernel.migrations import run_env

run_env(metadata, version_table="kernel_alembic_version")
