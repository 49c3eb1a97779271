# The classical reference model (eegslim.catalog: rule `classical`): log relative band power + logistic regression,
# fitted once per run (fold x seed) on that run's split and scored on the same test windows as the deep models.
# Not pruned, not exported: it has no prune, quantize or sensitivity jobs.


rule classical:
    input:
        h5="results/{ds}/windows.h5",
        split=lambda wc: run_split(wc.ds, wc.run),
    output:
        **classical_files("results/{ds}/{model}/baseline/{run}"),
    wildcard_constraints:
        model=alternation(models_where(rule="classical")),
    params:
        settings=lambda wc: flat(config[wc.model]),
    log:
        "logs/classical/{ds}/{model}/{run}.log",
    benchmark:
        "logs/benchmarks/classical/{ds}/{model}/{run}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV
    script:
        "../../scripts/classical.py"
