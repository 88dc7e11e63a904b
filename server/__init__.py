"""Gridwork API server: the only package that speaks HTTP."""

from server.app import create_app

__all__ = ["create_app"]
