"""Tests of the sync engine: pure core without fixtures, database side on real PostgreSQL."""
