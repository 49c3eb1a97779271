rule simulate:
    output:
        "resources/demo/{ds}/demo.json",
    params:
        kind=lambda wc: config["datasets"][wc.ds]["simulate"]["kind"],
        n_subjects=lambda wc: config["datasets"][wc.ds]["simulate"]["n_subjects"],
        seed=lambda wc: config["datasets"][wc.ds]["simulate"]["seed"],
        extra=lambda wc: flat(config["datasets"][wc.ds]["simulate"]["params"]),
    log:
        "logs/simulate/{ds}.log",
    benchmark:
        "logs/benchmarks/simulate/{ds}.tsv"
    priority: 40  # seconds long, and every chain waits on it (priorities do not pass upstream)
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../../scripts/simulate.py"
