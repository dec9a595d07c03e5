"""The OpenAPI 3.1 document: typed parameter declarations, response body schemas and the builder that
adds the error responses, security and headers every route shares. See docs/ARCHITECTURE.md."""
