"""The captain's screen, the observer's and replay's, on Textual: faces that render the read model."""
