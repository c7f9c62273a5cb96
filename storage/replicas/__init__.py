"""What several `dvk run` processes on one PostgreSQL database share (docs/deploy.md, "Several
replicas with PostgreSQL"): leases (a person's updates, the scheduler), the send slots, and the
outbox senders' claims (outbox_claims.py: a claim's lease and its messages' starts, which also
settle what a single process left when it was killed)."""
