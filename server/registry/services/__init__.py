"""Registry use cases: one module per entity on top of the generic record engine."""
