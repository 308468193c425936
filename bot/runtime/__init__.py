"""The composition root: settings, backends, storage, executors, the worker and evaluation. The only code that reads settings."""
