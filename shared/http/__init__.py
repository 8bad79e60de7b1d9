"""The HTTP edge: the only package (with ``functions/``) that knows Azure Functions' request
and response types and HTTP status codes. It turns a request into an ``ApiCall``, runs the
route's handler, and turns its ``Reply`` (or a domain error) into the response; the
OpenAPI document is put together here too (``openapi``)."""
