"""Shared pieces of the Streamlit pages: session state, cached loaders, selection handling, widgets.

The pages stay thin (widgets and calls into latentcore); anything two pages need lives here.
Nothing here does science: that is `latentcore`'s job.
"""
