"""The read side's fixtures (`e5`, `full_index`) live in tests/conftest.py, shared with the conversation tests."""
