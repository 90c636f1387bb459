"""A newsletter service: an existing FastAPI app that sends its work through offpath."""
