"""The template of a platform adapter: copy this folder for a new platform (see README.md)."""
