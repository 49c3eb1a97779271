# Per-layer pruning sensitivity of the baselines (all seeds), on the validation split, without retraining.


rule sensitivity:
    input:
        weights=expand("results/{{ds}}/{{model}}/baseline/seed{seed}/model.safetensors", seed=SEEDS),
        archs=expand("results/{{ds}}/{{model}}/baseline/seed{seed}/arch.json", seed=SEEDS),
        h5="results/{ds}/windows.h5",
        split="results/{ds}/splits.json",
    output:
        json="results/{ds}/{model}/sensitivity.json",
        csv="results/{ds}/{model}/sensitivity.csv",
    params:
        seeds=SEEDS,
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
