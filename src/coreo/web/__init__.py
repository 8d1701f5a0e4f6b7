"""The HTTP layer shared by every domain router: problems, middleware, OpenAPI, dependencies."""
