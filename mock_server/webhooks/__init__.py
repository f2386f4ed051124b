"""Webhook delivery for the mock (DECISIONS 6-7): settings, signing, events, URL policy, backoff, the
delivery journal, the HTTP sender, the dispatcher and its control routes. Import from the submodules;
this package root stays import-light so the pure `settings` can be nested by `mock_server.settings`.
"""
