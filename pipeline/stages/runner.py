"""Run a stage the way `make` and DVC do: its stale upstream stages first, itself only when its inputs changed.

No stage calls another: `pipeline evaluate` on a fresh clone runs prepare and train first because the
registry (pipeline/stages/registry.py) says evaluate reads train's model and train reads prepare's data.
Direct calls of a stage's function (tests, notebooks) run that stage alone; the comparison tool goes through here.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from pipeline.config import Config, ConfigError
from pipeline.errors import PipelineError
from pipeline.stages.registry import STAGES, upstream_of

log = logging.getLogger(__name__)


def run(cfg: Config, stage: str, force: bool = False) -> bool:
    """Run the stale stages upstream of `stage`, then `stage` unless it is up to date (or `force`); True when
    `stage` itself ran.

    The checks come before a stage imports torch or touches a file: an up-to-date stage, a dead
    MLFLOW_TRACKING_URI or a second process on the same run is answered in seconds instead of after
    prepare or training. Stamps are replaced atomically, so reading one needs no lock. `force` reruns the
    named stage only, never what it reads.
    """
    from pipeline.stages import distributed, fingerprint

    processes = distributed.world_size()
    if processes > 1 and stage != "train":
        raise PipelineError(
            f"`pipeline {stage}` runs in one process, not {processes}: launch only `pipeline train` "
            f"with torchrun / accelerate launch, then run `pipeline {stage}` on its own"
        )
    if processes > 1 and cfg.train.strategy == "head_only":
        raise ConfigError(
            f"train.strategy=head_only runs in one process, not {processes}: it trains a linear head on cached "
            "features in seconds; launch `pipeline train` without torchrun / accelerate launch"
        )
    stale = [name for name in upstream_of(stage) if fingerprint.up_to_date(cfg, name) is None]
    stamp = None if force else fingerprint.up_to_date(cfg, stage)
    if stamp is not None and not stale:
        print(
            f"{stage}: up to date (inputs unchanged since {stamp['finished']}; --force or FORCE=1 reruns)",
            file=sys.stderr,
        )
        return False
    # Imported here: `pipeline config` and an up-to-date stage should not pay for importing MLflow.
    from pipeline.stages import tracking

    tracking.check_reachable(tracking.tracking_uri(cfg))
    from pipeline.stages.runlock import run_lock

    # One lock for the whole invocation, named for the stage asked for, so no other process slips in between an
    # upstream stage and this one. Of several training processes only the main one holds it (the others are its
    # helpers, not rivals), and it runs the upstream stages while they wait.
    with run_lock(cfg, stage) if distributed.is_main() else contextlib.nullcontext():
        with distributed.main_first():
            for name in stale:
                # a stage that ran before this one may have made the next stale, or found it still current
                if fingerprint.up_to_date(cfg, name) is None:
                    log.info("%s for %s is missing or stale: running it before %s", name, cfg.run_name, stage)
                    STAGES[name].function()(cfg)
        STAGES[stage].function()(cfg)
    return True
