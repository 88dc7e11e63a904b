"""HTTP endpoints of the registry."""
