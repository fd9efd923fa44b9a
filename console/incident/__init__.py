"""The incident: tracker, journal and its file, postmortem, export, follow."""
