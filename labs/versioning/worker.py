"""Worker for lesson 08: `generation` picks which code it runs; `build_id` opts into Worker Versioning.

Run: python -m labs.versioning.worker (configured through LAB_* variables).
"""

from __future__ import annotations

from typing import Any

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

from .activities import ACTIVITIES
from .replay import workflow_of

DEPLOYMENT = "research-pipeline"


def worker_options(generation: str = "v1", build_id: str | None = None) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker (a versioned deployment if build_id is set)."""
    options: dict[str, Any] = {"workflows": [workflow_of(generation)], "activities": list(ACTIVITIES)}
    if build_id:
        options["deployment_config"] = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(DEPLOYMENT, build_id), use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED)
        # The sticky cache stays on (the SDK default): when the current version changes, the server
        # redirects an AUTO_UPGRADE run's next workflow task to the new build even if an old worker has
        # it cached (notebook 08 asserts it).
    return options


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
