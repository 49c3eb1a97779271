# Per-layer pruning sensitivity of the baselines (all runs), each on its split's validation part, without retraining.


rule sensitivity:
    input:
        weights=lambda wc: [f"results/{wc.ds}/{wc.model}/baseline/{run}/model.safetensors" for run in runs(wc.ds)],
        archs=lambda wc: [f"results/{wc.ds}/{wc.model}/baseline/{run}/arch.json" for run in runs(wc.ds)],
        h5="results/{ds}/windows.h5",
        splits=lambda wc: [run_split(wc.ds, run) for run in runs(wc.ds)],
    output:
        json="results/{ds}/{model}/sensitivity.json",
        csv="results/{ds}/{model}/sensitivity.csv",
    wildcard_constraints:
        model=alternation(models_where(sensitivity=True)),
    params:
        runs=lambda wc: runs(wc.ds),
        settings=flat(SENSITIVITY),
    log:
        "logs/sensitivity/{ds}/{model}.log",
    benchmark:
        "logs/benchmarks/sensitivity/{ds}/{model}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    script:
        "../../scripts/sensitivity.py"
