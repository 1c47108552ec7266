"""latentcli's Hydra launcher (hydra/launcher=fused). It lives here because Hydra instantiates launchers from
the hydra_plugins package only."""
