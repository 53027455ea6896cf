"""The command room (SPEC §10): the web server, its JSON API, sessions and live events."""
