"""The base registry: standard addresses, houses, people, organizations, incidents and work."""
