rule split:
    input:
        h5="results/{ds}/windows.h5",
    output:
        "results/{ds}/splits.json",
    params:
        val_fraction=config["split"]["val_fraction"],
        test_fraction=config["split"]["test_fraction"],
        seed=config["split"]["seed"],
    log:
        "logs/split/{ds}.log",
    benchmark:
        "logs/benchmarks/split/{ds}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/split.py"
