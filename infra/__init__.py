"""What runs and ships the meetbridge stack: the local cloud (``infra.local``) and deploy helpers."""
