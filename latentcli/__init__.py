"""latentcli: train GANs with a way back from x to z, invert images to latents, measure what it buys.

The Python API: `load_checkpoint(path)` -> (model, checkpoint dict) and `invert(model, x, method=...)`.
Both are imported on first use, so that `import latentcli.models` (or any lower layer) does not pull in
the inference methods.
"""

__version__ = "0.1.0"

__all__ = ["invert", "load_checkpoint"]


def __getattr__(name: str):
    if name == "load_checkpoint":
        from latentcli.models import load_checkpoint

        return load_checkpoint
    if name == "invert":
        from latentcli.inference import invert

        return invert
    raise AttributeError(f"module 'latentcli' has no attribute {name!r}")
