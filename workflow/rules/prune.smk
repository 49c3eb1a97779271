rule prune:
    input:
        weights="results/{ds}/{model}/baseline/{run}/model.safetensors",
        arch="results/{ds}/{model}/baseline/{run}/arch.json",
        h5="results/{ds}/windows.h5",
        split=lambda wc: run_split(wc.ds, wc.run),
    output:
        **model_files("results/{ds}/{model}/prune/{method}/{ratio}/{recovery}/{run}"),
    wildcard_constraints:
        model=alternation(models_where(pruned=True)),
    params:
        settings=lambda wc: flat(grid_settings(wc.recovery)),
    log:
        "logs/prune/{ds}/{model}/{method}/{ratio}/{recovery}/{run}.log",
    benchmark:
        "logs/benchmarks/prune/{ds}/{model}/{method}/{ratio}/{recovery}/{run}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=lambda wc: int(wc.recovery != "none"),  # recovery trains: --gpus=1 on SLURM
        runtime=120,
    conda:
        ENV
    script:
        "../../scripts/prune.py"
