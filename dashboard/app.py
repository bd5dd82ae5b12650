"""voc dashboard entry point: ``streamlit run dashboard/app.py`` (or ``voc dashboard``)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` executes this file as a script: make the project importable when not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

st.set_page_config(page_title="voc — voice of the customer", page_icon=":material/forum:", layout="wide")
page = st.navigation(
    [
        st.Page(
            "views/brief.py",
            title="Weekly brief",
            icon=":material/calendar_month:",
            default=True,
            url_path="brief",
        ),
        st.Page("views/explorer.py", title="Topic explorer", icon=":material/search:", url_path="explorer"),
        st.Page("views/topic.py", title="Topic detail", icon=":material/topic:", url_path="topic"),
        st.Page("views/map.py", title="Topic map", icon=":material/bubble_chart:", url_path="map"),
        st.Page(
            "views/health.py", title="Pipeline health", icon=":material/monitor_heart:", url_path="health"
        ),
    ]
)
page.run()
