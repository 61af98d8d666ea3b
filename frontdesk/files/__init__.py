"""Photos and files: type sniffing, settings, storage on disk and signed, expiring links.

Nothing here imports aiohttp except `web` (the HTTP handlers)."""
