"""The machinery shared by every task: the training loop, checkpoints, logging and device choice."""

from latentcli.engine.trainer import Trainer, TrainResult

__all__ = ["Trainer", "TrainResult"]
