"""Redrawing a community's grid boundaries: drafts, validation, preview, apply and jobs."""
