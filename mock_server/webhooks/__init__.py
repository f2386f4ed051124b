"""Webhook delivery for the mock (DECISIONS 6-7).

Pure: `settings` (WebhookSettings, the documented DEV_SECRET), `signing` (standardwebhooks), `events`,
`policy` (create-time URL check, delivery allowlist), `backoff`, `journal`, `retry` (the retry decision),
`lanes` (fair per-receiver queues), `chaos` (chaos planning, out-of-order pairing). I/O: `delivery` (one attempt
over an httpx2.AsyncClient, errors translated to DeliveryFailed), `transport` (lean keep-alive HTTP/1.1
for http:// receivers), `dispatcher` (WebhookDispatcher), `routes` (the /_mock/webhooks control routes).
Import from the submodules; this package root stays import-free so `mock_server.settings` can nest the
pure settings without pulling in httpx2 or anyio.
"""
