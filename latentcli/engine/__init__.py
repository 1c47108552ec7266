"""The machinery shared by every task: the training loop, checkpoints, logging and device choice."""

from latentcli.engine.trainable import Trainable, TrainResult
from latentcli.engine.trainer import Trainer

__all__ = ["Trainable", "Trainer", "TrainResult"]
