"""The browser's figures, built from arrays: plotly figures small enough for a million points
(`plots`, `density`), grids of maps (`maps`), the training page's charts (`training`) and PNG
downloads (`png`). No Streamlit here: the pages draw what these return."""
