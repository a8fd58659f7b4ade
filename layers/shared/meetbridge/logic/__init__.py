"""Use cases: each entry point calls one of these; they combine domain rules with the store."""
