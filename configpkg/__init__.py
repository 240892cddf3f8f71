"""Configuration packages: export, import and the coalition library of shared templates."""
