"""Embeddings of latents and what uses them: UMAP and PCA fits (`fit`), a fitted embedding and its file
(`fitted`), the fits kept on disk (`cache`), the nearest reference rows a row is placed among (`knn`) and the
kNN-graph walk that places most rows of large fits (`graph_search`), umap-learn's numba cache (`umap_numba`), new
images projected into a fitted embedding (`projection`), nearest-neighbour search (`search`), a study's embedding
(`study`)."""
