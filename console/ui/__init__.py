"""The Textual application: the App and its key flows."""
