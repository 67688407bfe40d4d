"""The app's HTTP interface: :mod:`.deps` (request dependencies), :mod:`.routes` (one module
per concern) and :mod:`.router` (all of them on one router)."""
