"""Prefect flows: orchestration only (retries, run records); the work lives in pipeline/ and models/."""
