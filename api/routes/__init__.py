"""The API's routers, one module per audience: customers, content owners, operations."""
