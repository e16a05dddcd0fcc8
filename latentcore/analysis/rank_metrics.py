"""The ranking's metric names and sample size (`rank` computes them): a module of its own, light to import, so
that the command line's parser does not load SciPy and scikit-learn for every command."""

CONTINUOUS_METRICS = ("pearson", "spearman", "kendall", "mutual_information", "distance_correlation", "hsic",
                      "partial_pearson")
LABEL_METRICS = ("ari", "nmi")
METRICS = CONTINUOUS_METRICS + LABEL_METRICS
SIGNED_METRICS = ("pearson", "spearman", "kendall", "partial_pearson")
# computed on a seeded sample above max_samples rows: HSIC is O(N^2) in time and memory, and
# kendall, dcor (multivariate) and the k-NN mutual information grow too fast for a million rows
SAMPLED_METRICS = ("kendall", "mutual_information", "distance_correlation", "hsic")
MULTIVARIATE_METRICS = ("distance_correlation", "hsic")  # also take an (N, k) reference, e.g. RGB
DEFAULT_MAX_SAMPLES = 2000
