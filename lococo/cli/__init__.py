"""The ``lococo`` command line: parses arguments, builds configs, dispatches. No science here."""
