"""What several `dvk run` processes on one PostgreSQL database share (docs/deploy.md, "Several
replicas with PostgreSQL"): leases (a person's updates, the scheduler) and the send slots."""
