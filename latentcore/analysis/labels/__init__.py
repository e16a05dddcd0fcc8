"""Labels of rows: tables, matching to pixels and editing (`labelled`), predicted over every row (`probe`), the labelled rows' items as a training set (`trainset`)."""
