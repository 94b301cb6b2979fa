"""A chat app: channels, messages, auth-gated sending and pagination."""
