"""Streamlit dashboard: reads the store read-only; never recomputes models."""
