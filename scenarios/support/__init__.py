"""A support desk: every platform part in one app.

* auth: users sign in with OIDC tokens (tests mint them with ``TestIssuer``);
* scheduler: a new ticket schedules an AI summary at once and a reminder in
  24 hours, which closing the ticket cancels; a cron writes a daily digest;
* outbound HTTP: the summary comes from an external API through httpx;
* file storage: attachments are uploaded through an upload URL;
* HTTP actions: inbound email arrives at an HMAC-signed webhook.
"""
