"""Request schemas (marshmallow) of the registry resources."""
