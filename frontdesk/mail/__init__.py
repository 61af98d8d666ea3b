"""E-mail: answers to left messages go out through SMTP (aiosmtplib) from a persistent outbox in
Redis, retried with back-off; their one-click satisfaction links land on /feedback/<token>."""
