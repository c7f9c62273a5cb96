"""The Zalo channel: Zalo Bot Platform's API, read and written."""
