"""The offline sync engine: knows nothing of Flask or HTTP."""
