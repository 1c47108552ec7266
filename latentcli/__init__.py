"""latentcli: train GANs with a way back from x to z, invert images to latents, measure what it buys."""

__version__ = "0.1.0"


def load_checkpoint(path, device: str = "auto"):
    """(model, checkpoint dict) rebuilt from a `latentcli train` checkpoint; see latentcli.restore."""
    from latentcli.restore import load_checkpoint as _load

    return _load(path, device)
