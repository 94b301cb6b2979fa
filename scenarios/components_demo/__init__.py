"""An app built from components: a shop that rate-limits orders per user (two rate limiter
instances), counts them in a sharded counter, and records them in an ``audit`` component
that itself uses a sharded counter. ``app/`` is the app; ``audit/`` is a local component."""
