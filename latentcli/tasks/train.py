"""latentcli train: build the dataset and model from the config and hand them to the Trainer."""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from latentcli import viz
from latentcli.data import batch_stream, build_dataset
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.environment import write_run_info
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.files import write_text
from latentcli.models import build_model
from latentcli.tasks.common import run_dir, seed_everything


def resumed_config(saved: dict, overrides: list[str]):
    """The stopped run's own config, with the command line's trainer.* overrides (budgets, logging) on top.

    Anything else (model=, dataset=, seed=, ...) would silently change the run being continued, so it
    is refused.
    """
    cfg = OmegaConf.create(saved)
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key == "resume" or key.startswith("hydra.") or override.is_hydra_override():
            continue
        if not key.startswith("trainer."):
            raise UserError(
                f"resume=true continues the saved run with its own config; only trainer.* settings may be "
                f"changed, not {override.input_line}"
            )
        OmegaConf.update(cfg, key, override.value(), merge=True)
    return cfg


def run(cfg) -> None:
    out = run_dir()
    resume_state = None
    last = out / "checkpoints" / "last.ckpt"
    if not cfg.resume and last.exists():
        raise UserError(f"{out} already holds a run: continue it with resume=true, or pick another hydra.run.dir")
    if cfg.resume:
        if not last.exists():
            raise UserError(
                f"resume=true but {last} does not exist: point hydra.run.dir at the run to continue"
            )
        resume_state = ckpt_io.load(last)
        cfg = resumed_config(resume_state["config"], list(HydraConfig.get().overrides.task))
        # Hydra saved the config composed from this command line; record the one that actually runs
        write_text(out / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg))
    trainer_cfg = TrainerConfig.from_cfg(cfg.trainer)
    seed_everything(cfg.seed)
    data = build_dataset(cfg.dataset)
    model = build_model(cfg.model, data.info)
    if cfg.batch_size > len(data.train):
        raise UserError(f"batch_size={cfg.batch_size} is larger than the training set ({len(data.train)} items)")

    def save_samples(step: int) -> None:
        viz.save_samples(model, out / "samples" / f"step-{step:08d}.png", data.train.subset(2500).x, seed=cfg.seed,
                         title=f"{cfg.model.name} on {cfg.dataset.name}, step {step}")

    trainer = Trainer(
        trainer_cfg,
        run_dir=out,
        checkpoint_meta={"config": OmegaConf.to_container(cfg, resolve=True), "data": data.info.to_dict()},
        on_periodic=save_samples,
        desc=f"train {cfg.model.name}/{cfg.dataset.name}",
    )

    write_run_info(out, trainer.device)

    def make_batches(start_step: int):
        return batch_stream(data.train, cfg.batch_size, cfg.seed, start_step, num_workers=trainer_cfg.num_workers,
                            pin_memory=trainer.device.type == "cuda")

    if resume_state is not None:
        print(f"resuming {out} from step {resume_state['step']}")
    result = trainer.fit(model, make_batches, resume=resume_state)
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.last_logs.items())
    print(f"stopped by {result.stopped_by} at step {result.step} after {result.seconds:.1f} s ({losses})")
    print(f"checkpoint: {last}")
    if result.stopped_by != "max_steps":
        print(f"continue with: latentcli train resume=true hydra.run.dir={out}")
    else:
        print(f"next: latentcli invert ckpt={last}   |   latentcli evaluate ckpt={last}")
