"""voc dashboard entry point: ``streamlit run dashboard/app.py`` (or ``voc dashboard``)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` executes this file as a script: make the project importable when not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

st.set_page_config(page_title="voc — weekly themes", page_icon=":material/forum:", layout="wide")
page = st.navigation(
    [
        st.Page(
            "views/weekly.py",
            title="Weekly overview",
            icon=":material/calendar_month:",
            default=True,
            url_path="weekly",
        ),
        st.Page("views/explorer.py", title="Topic explorer", icon=":material/search:", url_path="explorer"),
    ]
)
page.run()
