rule quantize:
    input:
        **model_files("results/{ds}/{model}/{mdir}"),
        h5="results/{ds}/windows.h5",
        split=lambda wc: run_split(wc.ds, wc.mdir.rsplit("/", 1)[-1]),
    output:
        models=expand("results/{{ds}}/{{model}}/{{mdir}}/onnx/{variant}/model.onnx", variant=VARIANTS),
        predictions=expand("results/{{ds}}/{{model}}/{{mdir}}/onnx/{variant}/predictions.npz", variant=VARIANTS),
        metrics=expand("results/{{ds}}/{{model}}/{{mdir}}/onnx/{variant}/metrics.json", variant=VARIANTS),
    wildcard_constraints:
        model=alternation(models_where(exported=True)),
    params:
        variants=VARIANTS,
        settings=flat({k: v for k, v in config["quantize"].items() if k != "variants"}),
    log:
        "logs/quantize/{ds}/{model}/{mdir}.log",
    benchmark:
        "logs/benchmarks/quantize/{ds}/{model}/{mdir}.tsv"
    priority: 5  # right after its model: few ready jobs for the scheduler to weigh
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        ENV
    script:
        "../../scripts/quantize.py"
