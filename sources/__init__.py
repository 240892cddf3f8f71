"""Sources, connectors, series and observations: the data backbone."""
