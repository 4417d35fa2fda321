"""The leaf library every app builds on. It imports no app of this project (an import-linter
contract in pyproject.toml checks it): rate limits, on-commit enqueue and the reconciler, the resilient
cache, logging, middleware, admin mixins, template tags, identifier validators, the client address
and the audit journal with its writer."""
