"""Widgets and panels the pages are made of: shared pieces (`common`), method parameters (`params`), linked
selections (`selection`), the band-contrast picker (`bandcontrast`), what the UMAP and maps pages show of rows
(`explore`), the S3 panel (`s3_panel`), and the extraction and training runs a page starts and follows
(`extraction`, `training`), what a page shows while a job computes (`waiting`), and sign-in and sharing
(`access`: the sign-in page, the pages shown instead of the app, the sidebar's account and sharing panel).
They read the session through `ui.session.state` and compute through the modules of `ui.compute`."""
