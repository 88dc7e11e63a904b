"""HTTP face of the offline sync engine: record types, authorisation, push/pull, inbox, health."""
