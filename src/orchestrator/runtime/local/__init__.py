"""The local runtime: the plan's components as process groups on this host."""
