"""The dataset a run loads into, created before anything is read."""

from __future__ import annotations

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from ..errors import InputError
from ..failures import destination_refused


def prepare_dataset(pipeline: dlt.Pipeline) -> None:
    """Create the dataset before anything is read: a destination that refuses fails in seconds, not after
    the whole account was read (dlt would create it only in its load step); and a pipeline whose first
    piece was read and not loaded keeps its state (dlt drops the state of a pipeline whose dataset it
    does not find)."""
    try:
        with pipeline.destination_client() as client:
            client.initialize_storage()
    except ConfigFieldMissingException:
        raise  # explained as the setting to set
    except Exception as exc:  # whatever the driver raises: the destination's fault, not a bug of ours
        raise InputError(destination_refused(pipeline, exc)) from exc
