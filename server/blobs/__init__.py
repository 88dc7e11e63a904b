"""Photos: content-addressed blobs (SHA-256), whole or resumable uploads, and what is missing."""
