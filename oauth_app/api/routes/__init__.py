"""One module per concern, each exposing ``router``: :mod:`.health`, :mod:`.landing`,
:mod:`.oauth` (the launch URL and the install URL, the OAuth redirect URI),
:mod:`.settings_page` and :mod:`.uninstall`."""
