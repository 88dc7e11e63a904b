"""The reproducible demo district and demo accounts that `make run` loads (`flask demo ...`)."""
