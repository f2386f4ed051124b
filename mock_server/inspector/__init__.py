"""The inspector: a page at `/_mock/ui` that shows tasks, webhooks, requests, the clock, rules and credits.

`views` (pure) shapes rows and pages; `capture` keeps the last request and response bodies; `routes`
serves the page, its static files, the paginated data endpoints and the live stream (docs/inspector.md).
"""
