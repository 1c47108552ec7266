"""Tasks: one thin module per subcommand; each builds objects from the config and calls the engine."""
