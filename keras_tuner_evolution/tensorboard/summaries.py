"""`Summary` protos for TensorBoard: the HParams experiment, session start and end, scalars.

Built with the `tensorboard` package's own protos, so they work on every Keras 3 backend.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from keras_tuner_evolution.tensorboard.hparams import plain_value


def _hparams_summary(tag: str, **plugin_data: Any) -> Any:
    """A `Summary` holding one piece of HParams plugin data under `tag`."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData(**plugin_data)
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )
    return summary


def experiment_summary(hparams: list, metrics: list, time_created_secs: float | None = None) -> Any:
    """The `Summary` holding an HParams experiment config.

    Args:
        hparams: `HParamInfo`s (see `hparams.hparam_infos`).
        metrics: `MetricInfo`s (see `hparams.metric_infos`).
        time_created_secs: When the experiment was created; now by default.
    """
    from tensorboard.plugins.hparams import api_pb2, metadata

    experiment = api_pb2.Experiment(
        hparam_infos=hparams,
        metric_infos=metrics,
        time_created_secs=time.time() if time_created_secs is None else time_created_secs,
    )
    return _hparams_summary(metadata.EXPERIMENT_TAG, experiment=experiment)


def session_start_summary(hparams: Mapping[str, Any], start_time_secs: float | None = None) -> Any:
    """The `Summary` opening an HParams session with these values.

    Args:
        hparams: The session's values by hparam name (bool, number or anything else as text).
        start_time_secs: When the session started; now by default.
    """
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(
        start_time_secs=time.time() if start_time_secs is None else start_time_secs
    )
    for name, value in hparams.items():
        value = plain_value(value)
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, float):
            info.hparams[name].number_value = value
        else:
            info.hparams[name].string_value = value
    return _hparams_summary(metadata.SESSION_START_INFO_TAG, session_start_info=info)


def session_end_summary(success: bool, end_time_secs: float | None = None) -> Any:
    """The `Summary` closing an HParams session as a success or a failure.

    Args:
        success: Whether the trial completed.
        end_time_secs: When the session ended; now by default.
    """
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE,
        end_time_secs=time.time() if end_time_secs is None else end_time_secs,
    )
    return _hparams_summary(metadata.SESSION_END_INFO_TAG, session_end_info=info)


def scalar_summary(tag: str, value: float) -> Any:
    """The `Summary` of one scalar value (Scalars dashboard)."""
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb

    return scalar_pb(tag, float(value))
